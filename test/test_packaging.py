"""The package builds with colcon (ament_python) and as a pip wheel.

colcon-common-extensions from PyPI builds against the pip rclpy here, as users with a
distro ROS install do.
"""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
import zipfile

import pytest

from ttm_ros.paths import SOURCE_ROOT

pytestmark = pytest.mark.slow


def test_package_xml_is_format_3():
    root = ElementTree.parse(SOURCE_ROOT / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'ttm_ros'
    assert root.findtext('export/build_type') == 'ament_python'
    depends = {element.text for element in root.iter('exec_depend')}
    assert {'rclpy', 'sensor_msgs', 'diagnostic_msgs', 'std_msgs', 'rcl_interfaces',
            'launch', 'launch_ros', 'python3-numpy', 'python3-opencv'} <= depends


def test_colcon_build_installs_executables_and_share(tmp_path):
    colcon = shutil.which('colcon', path=os.path.dirname(sys.executable))
    assert colcon, 'colcon is missing; run tools/setup-venv.sh'
    (tmp_path / 'src').mkdir()
    (tmp_path / 'src' / 'ttm_ros').symlink_to(SOURCE_ROOT)
    environment = {**os.environ, 'AMENT_PREFIX_PATH': sys.prefix}
    completed = subprocess.run([colcon, 'build', '--base-paths', 'src', '--build-base', 'build',
                                '--install-base', 'install'], cwd=tmp_path, env=environment,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    install = tmp_path / 'install' / 'ttm_ros'
    assert (install / 'lib' / 'ttm_ros' / 'ttm_node').is_file()
    assert (install / 'lib' / 'ttm_ros' / 'ttm-ros').is_file()
    share = install / 'share' / 'ttm_ros'
    for relative in ('package.xml', 'launch/ttm.launch.py', 'config/cpu.yaml', 'config/gpu.yaml',
                     'config/fastdds/large_images.xml', 'config/models/deeplab_edgetpu_cityscapes.yaml'):
        assert (share / relative).is_file(), relative
    assert (tmp_path / 'install' / 'share' / 'ament_index' / 'resource_index' / 'packages').exists() \
        or (share.parent / 'ament_index' / 'resource_index' / 'packages' / 'ttm_ros').is_file()


def test_wheel_carries_entry_points_and_data(tmp_path):
    completed = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                                '-w', str(tmp_path), str(SOURCE_ROOT)],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    wheel = next(tmp_path.glob('ttm_ros-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    data = 'ttm_ros-0.1.0.data/data/share/ttm_ros/'
    assert data + 'launch/ttm.launch.py' in names
    assert data + 'config/cpu.yaml' in names
    assert 'ttm_ros-0.1.0.data/data/share/ament_index/resource_index/packages/ttm_ros' in names
    entry_points = zipfile.ZipFile(wheel).read('ttm_ros-0.1.0.dist-info/entry_points.txt').decode()
    assert 'ttm-ros = ttm_ros.cli:main' in entry_points
    assert 'ttm_node = ttm_ros.ros.ttm_node:main' in entry_points
    assert 'ttm_lifecycle_node = ttm_ros.ros.ttm_node:main_managed' in entry_points
