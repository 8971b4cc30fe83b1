"""Shared pytest fixtures: the real data folder and tiny-model helpers.

The real frames and models live outside the repository. `TTM_ROS_DATA` points at
them (default: `../shared/data` beside the checkout). When the folder is missing,
tests that need it fail under CI (`CI` set) and skip elsewhere with the reason.
"""

import os
import pathlib
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# Test helpers (tiny models, ROS harness) import each other by module name.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def data_root() -> pathlib.Path:
    """Return the folder with the real frames and models (may not exist)."""
    return pathlib.Path(os.environ.get('TTM_ROS_DATA', REPO_ROOT.parent / 'shared' / 'data'))


@pytest.fixture(scope='session')
def shared_data() -> pathlib.Path:
    """Return the real-data folder; fail under CI and skip elsewhere when it is missing."""
    root = data_root()
    if not (root / 'README.md').is_file():
        message = (f'real test data not found at {root}; set TTM_ROS_DATA to the folder '
                   'that holds acdc-mooss-1024x512/ and model-deeplab-edgetpu-slim-cityscapes/')
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)
    return root


@pytest.fixture
def test_plugins(monkeypatch):
    """Make the test plug-ins (test/plugins) importable by module name, as users' own are."""
    from ros_harness import TEST_DIR
    monkeypatch.syspath_prepend(str(TEST_DIR / 'plugins'))


@pytest.fixture(scope='module')
def tiny_segformer(tmp_path_factory):
    """Configure this module's ROS environment and return a tiny SegFormer folder.

    The test translator plug-ins (test/plugins) become importable by module name.
    """
    from ros_harness import TEST_DIR, configure_ros_environment
    from tiny_segmenter import save_tiny_segformer

    configure_ros_environment(tmp_path_factory.mktemp('ros_logs'))
    if str(TEST_DIR / 'plugins') not in sys.path:
        sys.path.insert(0, str(TEST_DIR / 'plugins'))
    return save_tiny_segformer(tmp_path_factory.mktemp('segformer'))


@pytest.fixture
def ros_executor():
    """Initialise rclpy and spin every node added to the returned executor in a thread."""
    import threading

    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    rclpy.init()
    executor = MultiThreadedExecutor()
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    yield executor
    executor.shutdown()
    for node in list(executor.get_nodes()):
        node.destroy_node()
    rclpy.shutdown()


@pytest.fixture
def observer():
    """An rclpy node in this process for subscribing to a node under test; rclpy is
    initialised for each test."""
    import rclpy

    rclpy.init()
    node = rclpy.create_node('test_observer')
    yield node
    node.destroy_node()
    rclpy.shutdown()
