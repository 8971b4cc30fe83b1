"""Several cameras through one TTM node: own topics and headers, fair turns, batches.

The node runs in this process on a real executor; three camera publishers of different
frame sizes send over DDS on loopback, and each camera's outputs are recorded.
"""

import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from ttm_ros.core.cameras import camera_name, parse_cameras  # noqa: E402
from ttm_ros.core.errors import ConfigurationError  # noqa: E402
from ttm_ros.ros.image_msgs import image_from_msg, rgb_to_image_msg  # noqa: E402
from ttm_ros.ros.ttm_node import TTMNode  # noqa: E402

RELIABLE = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
SIZES = {'front': (48, 64), 'left': (60, 80), 'rear': (33, 71)}


def test_camera_entries_parsed():
    assert parse_cameras([], '/cam/image_raw') == [('', '/cam/image_raw')]
    assert parse_cameras(['front=/a/image_raw', '/rear/image_raw'], 'x') == [
        ('front', '/a/image_raw'), ('rear', '/rear/image_raw')]
    assert camera_name('/car/left/image_raw/compressed') == 'left'


@pytest.mark.parametrize('entries, fragment', [
    (['a=/x', 'a=/y'], 'used twice'),
    (['9lives=/x'], 'invalid'),
    (['front='], 'invalid'),
])
def test_invalid_camera_entries_rejected(entries, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        parse_cameras(entries, 'x')


class Cameras:
    """One publisher per camera and a recorder of each camera's pseudo-source and mask."""

    def __init__(self, executor, names):
        self.node = rclpy.create_node('multi_camera_test')
        executor.add_node(self.node)
        self.publishers = {name: self.node.create_publisher(Image, f'/car/{name}/image_raw', RELIABLE)
                           for name in names}
        self.received = {name: [] for name in names}
        self.subscriptions = [self.node.create_subscription(
            Image, f'/{name}/pseudo_source/image_raw', self.received[name].append, RELIABLE)
            for name in names]
        deadline = time.monotonic() + 20
        while any(p.get_subscription_count() == 0 for p in self.publishers.values()) or \
                any(s.get_publisher_count() == 0 for s in self.subscriptions):
            assert time.monotonic() < deadline, 'the node did not match the test cameras'
            time.sleep(0.05)
        time.sleep(0.3)

    def send(self, name: str, sec: int) -> np.ndarray:
        height, width = SIZES[name]
        rgb = np.random.default_rng(sec).integers(0, 256, (height, width, 3), dtype=np.uint8)
        header = Header(frame_id=f'{name}_optical')
        header.stamp.sec = sec
        self.publishers[name].publish(rgb_to_image_msg(rgb, header))
        return rgb

    def wait_for(self, condition, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)


def start_node(ros_executor, tiny_segformer, names, translator='slow_translator:InvertTranslator', **extra):
    values = {'translator.name': translator, 'segmenter.name': 'transformers',
              'segmenter.model': str(tiny_segformer), 'segmenter.config': '',
              'input.cameras': [f'{name}=/car/{name}/image_raw' for name in names],
              'input.qos.reliability': 'reliable', 'input.qos.depth': 20, **extra}
    node = TTMNode(parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])
    ros_executor.add_node(node)
    return node


@pytest.mark.ros
@pytest.mark.parametrize('names, batch', [(['front', 'left'], 1), (['front', 'left', 'rear'], 3)])
def test_each_camera_gets_own_outputs(ros_executor, tiny_segformer, names, batch):
    start_node(ros_executor, tiny_segformer, names, **{'evaluation_mode': True, 'batch.max_frames': batch})
    cameras = Cameras(ros_executor, names)
    sent = {name: cameras.send(name, sec=10 + index) for index, name in enumerate(names)}
    cameras.wait_for(lambda: all(cameras.received[name] for name in names))
    for index, name in enumerate(names):
        assert len(cameras.received[name]) == 1, name
        output = cameras.received[name][0]
        assert output.header.stamp.sec == 10 + index
        assert output.header.frame_id == f'{name}_optical'
        assert (output.height, output.width) == SIZES[name]
        assert np.array_equal(image_from_msg(output), 255 - sent[name])


@pytest.mark.ros
def test_stopped_camera_does_not_stall_others(ros_executor, tiny_segformer):
    node = start_node(ros_executor, tiny_segformer, ['front', 'rear'])
    cameras = Cameras(ros_executor, ['front', 'rear'])
    cameras.send('rear', sec=1)  # rear sends once, then stops
    for second in range(2, 12):
        cameras.send('front', sec=second)
        time.sleep(0.1)
    cameras.wait_for(lambda: any(m.header.stamp.sec == 11 for m in cameras.received['front']))
    assert len(cameras.received['rear']) == 1
    assert cameras.received['front'][-1].header.stamp.sec == 11
    assert [camera.name for camera in node.cameras] == ['front', 'rear']


@pytest.mark.ros
def test_detection_node_rejects_several_cameras(ros_executor, tiny_segformer):
    from ttm_ros.ros.detection_node import DetectionNode
    with pytest.raises(ConfigurationError, match='at most 1 camera'):
        DetectionNode(parameter_overrides=[Parameter('input.cameras', value=['a=/a', 'b=/b'])])


@pytest.mark.ros
def test_evaluation_queue_bounded(ros_executor, tiny_segformer):
    """A replay far faster than a 0.5 s translator loses its oldest waiting frames, counted."""
    node = start_node(ros_executor, tiny_segformer, ['front'], translator='slow_translator:SlowTranslator',
                      **{'evaluation_mode': True, 'evaluation_max_queue': 2})
    cameras = Cameras(ros_executor, ['front'])
    for second in range(1, 9):
        cameras.send('front', sec=second)
    slot = node.cameras[0].slot
    cameras.wait_for(lambda: slot.received == 8 and node.processed + slot.dropped == 8)
    cameras.wait_for(lambda: len(cameras.received['front']) == node.processed)

    stamps = [message.header.stamp.sec for message in cameras.received['front']]
    # About 5 on an idle machine; fewer when the frames arrive slowly, none without a bound.
    assert slot.dropped >= 2, f'{slot.dropped} dropped; outputs for {stamps}'
    assert stamps[-2:] == [7, 8]  # the newest frames are never the ones dropped
    assert stamps == sorted(stamps)
