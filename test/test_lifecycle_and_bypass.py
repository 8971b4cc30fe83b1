"""The managed (lifecycle) TTM node and the translation bypass, in this process.

The nodes run on a real rclpy executor and exchange frames over DDS on loopback with a
camera node created here; the models are a tiny SegFormer and test translators.
"""

import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from std_srvs.srv import SetBool  # noqa: E402

from ttm_ros.ros.image_msgs import image_from_msg, rgb_to_image_msg  # noqa: E402
from ttm_ros.ros.ttm_node import ManagedTTMNode, TTMNode  # noqa: E402

pytestmark = pytest.mark.ros
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def overrides(tiny_segformer, translator='identity', **extra):
    values = {'translator.name': translator, 'segmenter.name': 'transformers',
              'segmenter.model': str(tiny_segformer), 'segmenter.config': '',
              'input.topic': '/lifecycle_test/image_raw', 'input.qos.reliability': 'reliable',
              'evaluation_mode': True, **extra}
    return [Parameter(name, value=value) for name, value in values.items()]


class Camera:
    """A publisher of one test frame and a recorder of the pseudo-source outputs."""

    def __init__(self, executor, output_topic='/pseudo_source/image_raw'):
        self.node = rclpy.create_node('lifecycle_test_camera')
        self.publisher = self.node.create_publisher(Image, '/lifecycle_test/image_raw', RELIABLE)
        self.received = []
        self.output = self.node.create_subscription(
            Image, output_topic, self.received.append, RELIABLE)
        executor.add_node(self.node)
        self.frame = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)

    def send(self, sec: int) -> Header:
        header = Header(frame_id='front')
        header.stamp.sec = sec
        deadline = time.monotonic() + 20
        while self.publisher.get_subscription_count() == 0 or self.output.get_publisher_count() == 0:
            assert time.monotonic() < deadline, 'the node did not match the test camera'
            time.sleep(0.05)
        time.sleep(0.3)
        self.publisher.publish(rgb_to_image_msg(self.frame, header))
        return header

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)


def test_unconfigured_node_reports_diagnostics(ros_executor, tiny_segformer):
    """Before configure there are no models, and the diagnostics timer must not need them."""
    from diagnostic_msgs.msg import DiagnosticArray
    node = ManagedTTMNode(parameter_overrides=overrides(tiny_segformer, **{'diagnostics.period': 0.2}))
    ros_executor.add_node(node)
    observer = rclpy.create_node('diagnostics_observer')
    reports = []
    observer.create_subscription(DiagnosticArray, '/diagnostics', reports.append, RELIABLE)
    ros_executor.add_node(observer)
    deadline = time.monotonic() + 20
    while len(reports) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert len(reports) >= 5, 'the diagnostics timer stopped before configure'
    assert reports[-1].status[0].message.startswith('models not loaded')
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS


def test_lifecycle_loads_and_frees_models(ros_executor, tiny_segformer):
    node = ManagedTTMNode(parameter_overrides=overrides(tiny_segformer))
    ros_executor.add_node(node)
    assert not node.models_loaded
    assert not hasattr(node, 'pipeline')

    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.models_loaded
    segmenter = node.pipeline.segmenter
    assert segmenter.model is not None
    assert all(camera.subscription is None for camera in node.cameras)

    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    camera = Camera(ros_executor)
    header = camera.send(sec=7)
    camera.wait_for(1)
    assert len(camera.received) == 1
    assert camera.received[0].header.stamp.sec == header.stamp.sec
    assert camera.received[0].header.frame_id == 'front'

    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert all(camera.subscription is None for camera in node.cameras)
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert not node.models_loaded
    assert segmenter.model is None


def test_lifecycle_configure_failure_is_recoverable(ros_executor, tiny_segformer):
    node = ManagedTTMNode(parameter_overrides=overrides(
        tiny_segformer, **{'segmenter.model': '/nonexistent/segformer'}))
    ros_executor.add_node(node)
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert not node.models_loaded
    assert node.set_parameters([Parameter('segmenter.model', value=str(tiny_segformer))])[0].successful
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.models_loaded


def test_bypass_publishes_original_frame(ros_executor, tiny_segformer):
    node = TTMNode(parameter_overrides=overrides(tiny_segformer, 'slow_translator:InvertTranslator'))
    ros_executor.add_node(node)
    camera = Camera(ros_executor)

    camera.send(sec=1)
    camera.wait_for(1)
    translated = image_from_msg(camera.received[0])
    assert np.array_equal(translated, 255 - camera.frame)

    client = camera.node.create_client(SetBool, '/ttm_node/set_bypass')
    assert client.wait_for_service(timeout_sec=10)
    response = client.call(SetBool.Request(data=True), timeout_sec=10)
    assert response.success
    assert node.get_parameter('bypass_translation').value is True

    header = camera.send(sec=2)
    camera.wait_for(2)
    bypassed = camera.received[1]
    assert np.array_equal(image_from_msg(bypassed), camera.frame)
    assert (bypassed.header.stamp.sec, bypassed.header.frame_id) == (header.stamp.sec, 'front')
    assert (bypassed.width, bypassed.height) == (70, 45)
