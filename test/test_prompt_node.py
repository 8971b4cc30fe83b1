"""Changing translator.prompt on a running node: new embedding, cached once, new output.

The node runs as its own process with a tiny FLUX.2 klein editor and a tiny SegFormer.
A camera process publishes the frames. This process sets the parameter through the
node's SetParameters service and reads the pseudo-source images.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from safetensors import safe_open  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from ros_harness import configure_ros_environment, frames, start_camera, start_node  # noqa: E402
from tiny_editors import save_tiny_flux2_klein  # noqa: E402
from tiny_segmenter import save_tiny_segformer  # noqa: E402
from ttm_ros.core import prompts  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SIZE = 64


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """Configure this module's ROS environment; return (logs, editor, segmenter) folders."""
    logs = tmp_path_factory.mktemp('ros_logs')
    configure_ros_environment(logs)
    return (logs, save_tiny_flux2_klein(tmp_path_factory.mktemp('flux2_klein')),
            save_tiny_segformer(tmp_path_factory.mktemp('segformer')))


class PseudoSourceRecorder:
    """Stores the pseudo-source images of the node and sets its parameters."""

    def __init__(self, node):
        self.node = node
        self.images = []
        self.subscription = node.create_subscription(
            Image, '/ttm/pseudo_source/image_raw', self.images.append,
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.client = node.create_client(SetParameters, '/ttm/ttm_node/set_parameters')

    def spin_until(self, condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def set_prompt(self, value: str):
        request = SetParameters.Request(parameters=[Parameter(
            name='translator.prompt', value=ParameterValue(
                type=ParameterType.PARAMETER_STRING, string_value=value))])
        future = self.client.call_async(request)
        rclpy.spin_until_future_complete(self.node, future, timeout_sec=120)
        return future.result().results[0]

    def translate(self, logs, first_sec: int) -> np.ndarray:
        """Publish one test frame and return the pseudo-source image of it."""
        count = len(self.images)
        camera = start_camera(logs, {'topic': '/test_camera/image_raw', 'reliability': 'reliable',
                                     'rate_hz': 5, 'frames': frames(['rgb8'], SIZE, SIZE,
                                                                    first_sec=first_sec)})
        assert camera.wait(60) == 0
        self.spin_until(lambda: len(self.images) > count, 60)
        assert len(self.images) > count, 'no pseudo-source image for the frame'
        message = self.images[-1]
        assert message.header.stamp.sec == first_sec
        return np.frombuffer(message.data, np.uint8).reshape(SIZE, SIZE, 3).copy()


def cache_files(folder):
    return sorted(path.name for path in folder.glob('*.safetensors'))


def test_prompt_parameter_reencodes_once(models, observer, tmp_path):
    logs, editor, segmenter = models
    cache = tmp_path / 'prompt_cache'
    prompt_file = tmp_path / 'generated_prompt.yaml'
    prompts.write_prompt_file(prompt_file, prompts.PromptRecord('Make it a dry noon street.'))
    node = start_node(logs, {
        'translator.name': 'flux2-klein', 'translator.model': str(editor),
        'translator.cache_dir': str(cache), 'segmenter.name': 'transformers',
        'segmenter.model': str(segmenter), 'segmenter.config': '', 'evaluation_mode': True,
        'input.qos.reliability': 'reliable', 'output.color_mask': False,
        'output.overlay': False})
    try:
        recorder = PseudoSourceRecorder(observer)
        assert recorder.client.wait_for_service(timeout_sec=30)
        recorder.spin_until(lambda: recorder.subscription.get_publisher_count() > 0, 30)
        files_at_start = cache_files(cache)
        before = recorder.translate(logs, first_sec=1000)

        changed = recorder.set_prompt(str(prompt_file))
        files_after_change = cache_files(cache)
        repeated = recorder.set_prompt(str(prompt_file))
        files_after_repeat = cache_files(cache)
        after = recorder.translate(logs, first_sec=2000)

        missing = recorder.set_prompt(str(tmp_path / 'missing_prompt.yaml'))
    finally:
        node.stop()

    assert len(files_at_start) == 1
    assert changed.successful, changed.reason
    assert len(files_after_change) == 2
    assert set(files_at_start) < set(files_after_change)
    [new_file] = set(files_after_change) - set(files_at_start)
    with safe_open(str(cache / new_file), 'pt') as entry:
        assert entry.metadata()['prompt'] == 'Make it a dry noon street.'
    assert repeated.successful, repeated.reason
    assert files_after_repeat == files_after_change
    assert not np.array_equal(before, after)
    assert not missing.successful
    assert 'missing_prompt.yaml' in missing.reason
    assert 'source prompt: preset clear_day_driving' in node.output
    assert f'translator prompt changed to prompt file {prompt_file}' in node.output
