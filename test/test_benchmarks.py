"""The benchmark scripts keep working: each runs once at a small size on the CPU.

They print ratios; these tests check that they run and print them, not the speed.
"""

import subprocess
import sys

import pytest

from ros_harness import REPO_ROOT, configure_ros_environment


def run_script(name, *arguments):
    completed = subprocess.run([sys.executable, str(REPO_ROOT / 'bench' / name), *arguments],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.mark.ros
def test_node_plumbing_prints_ratios(tmp_path):
    configure_ros_environment(tmp_path)
    output = run_script('node_plumbing.py', '--width', '320', '--height', '240', '--frames', '3')
    assert 'x bare' in output
    assert 'plumbing total' in output


def test_flux2_klein_speed_toy_run(tmp_path):
    output = run_script('flux2_klein_speed.py', '--toy', '--repeats', '1', '--json',
                        str(tmp_path / 'speed.json'))
    assert 'x published 0.8 s' in output
    assert 'node path' in output
    assert (tmp_path / 'speed.json').is_file()
