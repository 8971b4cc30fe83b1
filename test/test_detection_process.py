"""Both nodes of the launch file (`ttm-ros run --detection true`) as their own process.

A camera process publishes frames, the TTM node translates them, the detection node
detects on the pseudo-source image with a tiny DETR, and this process checks the
Detection2DArray messages, the latched labels, the overlay and the timing messages.
"""

from __future__ import annotations

import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not built; run tools/build-vision-msgs.sh')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection2DArray, LabelInfo  # noqa: E402

from ros_harness import Process, configure_ros_environment, frames, start_camera  # noqa: E402
from tiny_detector import save_tiny_detr  # noqa: E402
from tiny_segmenter import save_tiny_segformer  # noqa: E402

pytestmark = pytest.mark.ros

WIDTH, HEIGHT = 321, 239  # non-square, neither side a multiple of 32


def test_detections_keep_header_and_input_pixels(tmp_path_factory):
    logs = tmp_path_factory.mktemp('ros_logs')
    configure_ros_environment(logs)
    segformer = save_tiny_segformer(tmp_path_factory.mktemp('segformer'))
    detr = save_tiny_detr(tmp_path_factory.mktemp('detr'))
    parameters = {'translator.name': 'identity', 'segmenter.name': 'transformers',
                  'segmenter.model': str(segformer), 'segmenter.config': '',
                  'detector.name': 'transformers', 'detector.model': str(detr),
                  'detector.score_threshold': '0.0', 'evaluation_mode': 'true',
                  'input.qos.reliability': 'reliable', 'input.qos.depth': '10', 'output.timing': 'true'}
    command = [sys.executable, '-m', 'ttm_ros.cli', 'run', '--profile', 'cpu', '--detection', 'true',
               '--camera-topic', '/test_camera/image_raw', '--namespace', 'ttm', '--dds-profile', 'none']
    for name, value in parameters.items():
        command += ['-p', f'{name}={value}']
    nodes = Process(command, logs / 'nodes.log')

    rclpy.init()
    observer = rclpy.create_node('detection_observer')
    received, overlays, labels, timings = [], [], [], []
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    subscriptions = [
        observer.create_subscription(Detection2DArray, '/ttm/detection/detections', received.append, reliable),
        observer.create_subscription(Image, '/ttm/detection/overlay', overlays.append, reliable),
        observer.create_subscription(DiagnosticArray, '/ttm/detection/timing', timings.append, reliable)]
    observer.create_subscription(LabelInfo, '/ttm/detection/label_info', labels.append, QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    try:
        nodes.wait_for_line('ready in', timeout=120)
        _spin_until(observer, lambda: all(s.get_publisher_count() for s in subscriptions), 30)
        sent = frames(['rgb8', 'rgb8', 'rgb8'], width=WIDTH, height=HEIGHT)
        camera = start_camera(logs, {'topic': '/test_camera/image_raw', 'reliability': 'reliable',
                                     'rate_hz': 5, 'frames': sent, 'wait_for_subscribers': 2})
        _spin_until(observer, lambda: len(received) >= 3 and len(overlays) >= 3 and len(timings) >= 3
                    and labels, 90)
        assert camera.wait(30) == 0
    finally:
        nodes.stop()
        observer.destroy_node()
        rclpy.shutdown()

    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in received] == \
        [(f['sec'], f['nanosec']) for f in sent]
    assert {m.header.frame_id for m in received} == {'cam_left'}
    # One timing message per frame, with the frame's header and the detector's stage time.
    assert [m.header for m in timings] == [m.header for m in received]
    assert {m.status[0].message for m in timings} == {'ok'}
    assert all('detect_ms' in {kv.key for kv in m.status[0].values} for m in timings)
    assert {(m.width, m.height) for m in overlays} == {(WIDTH, HEIGHT)}
    # The cpu profile's class map (COCO to road users) defines the published labels.
    assert [c.class_name for c in labels[0].class_map] == ['person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck']
    for message in received:
        assert len(message.detections) == 10  # every query of the tiny DETR at threshold 0
        for detection in message.detections:
            box = detection.bbox
            half_w, half_h = box.size_x / 2, box.size_y / 2
            assert box.center.position.x - half_w >= -1e-6
            assert box.center.position.x + half_w <= WIDTH + 1e-6
            assert box.center.position.y - half_h >= -1e-6
            assert box.center.position.y + half_h <= HEIGHT + 1e-6
            assert detection.header == message.header
            hypothesis = detection.results[0].hypothesis
            assert hypothesis.class_id in ('car', 'person', 'bus')
            assert 0.0 <= hypothesis.score <= 1.0
    # Boxes in input pixels: some box reaches past the 64 x 96 processed size of the model.
    assert max(d.bbox.center.position.x + d.bbox.size_x / 2 for m in received for d in m.detections) > 96


def _spin_until(node, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
