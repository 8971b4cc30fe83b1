"""Helpers for tests that run the TTM node and test cameras as separate processes.

Every process of one pytest run shares a ROS_DOMAIN_ID chosen at random (or the one
already set), keeps discovery on localhost and loads the loopback Fast DDS profile.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import sys
import time
from typing import Dict, List

from ttm_ros.child_process import ChildProcess

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST_DIR = REPO_ROOT / 'test'


def configure_ros_environment(log_dir: pathlib.Path) -> None:
    """Set the variables of this test run in os.environ (inherited by every child)."""
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random().randint(1, 100)))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_LOG_DIR'] = str(log_dir)
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(
        REPO_ROOT / 'config' / 'fastdds' / 'large_images_localhost.xml')
    os.environ['PYTHONUNBUFFERED'] = '1'
    paths = [str(TEST_DIR / 'plugins'), os.environ.get('PYTHONPATH', '')]
    os.environ['PYTHONPATH'] = os.pathsep.join(p for p in paths if p)


def Process(command: List[str], log_path: pathlib.Path) -> ChildProcess:
    """Start `command` with this run's environment; output goes to `log_path`."""
    return ChildProcess(log_path.stem, command, log_path, dict(os.environ))


def start_node(log_dir: pathlib.Path, parameters: Dict[str, object], profile: str = 'cpu',
               camera_topic: str = '/test_camera/image_raw', namespace: str = 'ttm',
               transport: str = 'raw') -> Process:
    """Start `ttm-ros run` as its own process and wait until the node is ready."""
    command = [sys.executable, '-m', 'ttm_ros.cli', 'run', '--profile', profile,
               '--camera-topic', camera_topic, '--namespace', namespace,
               '--transport', transport, '--dds-profile', 'none']
    for name, value in parameters.items():
        text = ('true' if value else 'false') if isinstance(value, bool) else str(value)
        command += ['-p', f'{name}={text}']
    process = Process(command, log_dir / f'node_{time.monotonic_ns()}.log')
    process.wait_for_line('ready in', timeout=120)
    return process


def start_camera(log_dir: pathlib.Path, spec: dict) -> Process:
    """Start test/camera_process.py with `spec` (see its docstring)."""
    spec_path = log_dir / f'camera_{time.monotonic_ns()}.json'
    spec_path.write_text(json.dumps(spec))
    return Process([sys.executable, str(TEST_DIR / 'camera_process.py'), str(spec_path)],
                   spec_path.with_suffix('.log'))


def frames(kinds: List[str], width: int, height: int, frame_id: str = 'cam_left',
           first_sec: int = 1000) -> List[dict]:
    """Return frame descriptions with distinct stamps (first_sec + i s, i * 1000 ns)."""
    return [{'kind': kind, 'width': width, 'height': height, 'sec': first_sec + i,
             'nanosec': i * 1000, 'frame_id': frame_id} for i, kind in enumerate(kinds)]
