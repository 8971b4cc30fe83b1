"""The detection node: boxes on the TTM node's pseudo-source image.

It subscribes to `input.topic` (by default the pseudo-source image, which carries the
camera header) and publishes vision_msgs/Detection2DArray with the input header, an
overlay image with the boxes, the labels once (latched LabelInfo), with `output.timing`
one timing message per frame, and, while someone subscribes to it, a composite
in-vehicle view. With `original.topic` set, the node also keeps the newest original
camera frames by header stamp: `fusion.mode` fuses the detections of the original frame
with the sampled frame's, and the composite view shows it. Topics:
`ttm_ros.topics.DETECTION_NODE_TOPICS` (docs/reference.md).

Scheduling (newest frame), QoS, bad frames and diagnostics come from `FrameNode`.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Deque, Dict, List, Optional

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray, LabelInfo

from ttm_ros import topics
from ttm_ros.core.detection_view import composite_view, draw_detections
from ttm_ros.core.detectors import build_detector, detector_settings
from ttm_ros.core.detectors.base import Detection
from ttm_ros.core.detectors.fusion import fuse_detections
from ttm_ros.core.errors import FrameError
from ttm_ros.core.parameters import DETECTION_NODE_PARAMETERS
from ttm_ros.ros import qos
from ttm_ros.ros.detection_msgs import detections_to_msg, label_info_msg
from ttm_ros.ros.frame_node import FrameNode, run_node
from ttm_ros.ros.image_msgs import image_from_msg, rgb_to_image_msg

NODE_NAME = 'detection_node'


class StampBuffer:
    """The last few messages of a topic, looked up by header stamp (thread-safe)."""

    def __init__(self, size: int = 16):
        self._messages: 'collections.OrderedDict[tuple, Any]' = collections.OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def put(self, message) -> None:
        with self._lock:
            self._messages[_stamp(message.header)] = message
            while len(self._messages) > self._size:
                self._messages.popitem(last=False)

    def get(self, header) -> Optional[Any]:
        """Return the message with exactly this header stamp, or None."""
        with self._lock:
            return self._messages.get(_stamp(header))

    def newest(self) -> Optional[Any]:
        """Return the message with the latest stamp, or None."""
        with self._lock:
            return self._messages[max(self._messages)] if self._messages else None


class DetectionNode(FrameNode):
    """ROS shell around a detector (see the module docstring for topics)."""

    pipeline_name = 'detection pipeline'
    # The original-stream buffer and the composite view follow one camera.
    max_cameras = 1

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, DETECTION_NODE_PARAMETERS, **kwargs)

    def load_models(self) -> None:
        self.get_logger().info(f"loading detector {self.values['detector.name']!r}")
        self.detector = build_detector(self.values['detector.name'], detector_settings(self.values))
        self.get_logger().info(f'detector: {self.detector.describe()}; labels: '
                               f'{", ".join(self.detector.class_names)}')
        self.detections_published = 0
        self.fusion_without_original = 0
        self._frame_times: Deque[float] = collections.deque(maxlen=30)

    def create_outputs(self, camera) -> None:
        self.pub_detections = self.create_output_publisher(Detection2DArray, topics.DETECTIONS)
        self.pub_overlay = (self.create_output_publisher(Image, topics.DETECTION_OVERLAY)
                            if self.values['output.overlay'] else None)
        self.pub_composite = (self.create_output_publisher(Image, topics.DETECTION_COMPOSITE)
                              if self.values['output.composite'] else None)
        self.pub_timing = (self.create_output_publisher(DiagnosticArray, topics.DETECTION_TIMING)
                           if self.values['output.timing'] else None)
        self.pub_labels = self.create_publisher(LabelInfo, topics.DETECTION_LABELS, qos.latched_qos())
        self.pub_labels.publish(label_info_msg(self.detector.class_names,
                                               self.values['detector.score_threshold']))
        self.originals = self._buffered_subscription(self.values['original.topic'],
                                                     self._input_profile())
        self.segmentation = None
        if self.pub_composite is not None:
            self.segmentation = self._buffered_subscription(
                self.values['composite.segmentation_topic'], self.output_qos)

    def process_frame(self, camera, header, rgb: np.ndarray) -> Dict[str, float]:
        # 1. Detect on the input frame, and on the matching original when fusing.
        start = time.perf_counter()
        detections = self.detector.detect(rgb)
        timings = {'detect': (time.perf_counter() - start) * 1000.0}
        original = self._original_for(header, rgb.shape)
        if self.values['fusion.mode'] != 'none':
            detections = self._fuse(detections, original, timings)

        # 2. Publish the detections and the overlay.
        start = time.perf_counter()
        self.pub_detections.publish(detections_to_msg(detections, header))
        self.detections_published += len(detections)
        boxes_image = None
        if self.pub_overlay is not None:
            boxes_image = draw_detections(rgb, detections)
            self.pub_overlay.publish(rgb_to_image_msg(boxes_image, header))
        timings['publish'] = (time.perf_counter() - start) * 1000.0

        # 3. The composite view, only while someone watches it.
        if self.pub_composite is not None and self.pub_composite.get_subscription_count() > 0:
            start = time.perf_counter()
            if boxes_image is None:
                boxes_image = draw_detections(rgb, detections)
            self._publish_composite(header, rgb, original, boxes_image)
            timings['composite'] = (time.perf_counter() - start) * 1000.0
        self._frame_times.append(time.monotonic())
        return timings

    def apply_parameter(self, name: str, value: Any) -> None:
        if name == 'detector.score_threshold':
            self.detector.settings.score_threshold = float(value)
            self.pub_labels.publish(label_info_msg(self.detector.class_names, float(value)))
        elif name == 'detector.max_detections':
            self.detector.settings.max_detections = int(value)

    def timing_publisher(self, camera) -> Optional[Any]:
        return getattr(self, 'pub_timing', None)

    def extra_diagnostics(self) -> Dict[str, float]:
        return {'detections': self.detections_published,
                'fusion_without_original': self.fusion_without_original}

    def close_models(self) -> None:
        if hasattr(self, 'detector'):
            self.detector.close()

    # ---------------------------------------------------------------- helpers
    def _input_profile(self):
        return qos.input_qos(self.values['input.qos.reliability'], self.values['input.qos.depth'])

    def _buffered_subscription(self, topic: str, profile) -> Optional[StampBuffer]:
        if not topic:
            return None
        buffer = StampBuffer()
        self.create_subscription(Image, topic, buffer.put, profile,
                                 event_callbacks=qos.subscription_events(
                                     self.get_logger(), self.resolve_topic_name(topic)))
        return buffer

    def _original_for(self, header, shape) -> Optional[np.ndarray]:
        """Return the decoded original frame with the input's stamp, or None."""
        message = self.originals.get(header) if self.originals is not None else None
        if message is None:
            return None
        original = image_from_msg(message)
        if original.shape != shape:
            raise FrameError(f'original frame is {original.shape[1]}x{original.shape[0]} but the input is '
                             f'{shape[1]}x{shape[0]}; both must have one size for fusion')
        return original

    def _fuse(self, detections: List[Detection], original: Optional[np.ndarray],
              timings: Dict[str, float]) -> List[Detection]:
        if original is None:
            self.fusion_without_original += 1
            self.get_logger().warning(
                f"fusion.mode={self.values['fusion.mode']} but no original frame with the input's stamp "
                f"arrived on {self.values['original.topic'] or '(original.topic is empty)'}; "
                'published the input detections alone', throttle_duration_sec=self.values['log_throttle'])
            return detections
        start = time.perf_counter()
        original_detections = self.detector.detect(original)
        fused = fuse_detections([original_detections, detections], self.values['fusion.mode'],
                                self.values['fusion.iou'], self.values['detector.max_detections'])
        timings['detect_original_and_fuse'] = (time.perf_counter() - start) * 1000.0
        return fused

    def _publish_composite(self, header, rgb, original, boxes_image) -> None:
        segmentation = None
        if self.segmentation is not None:
            message = self.segmentation.get(header) or self.segmentation.newest()
            segmentation = image_from_msg(message) if message is not None else None
        if original is None and self.originals is not None:
            message = self.originals.newest()
            original = image_from_msg(message) if message is not None else None
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        latency_ms = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
        times = self._frame_times
        rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        view = composite_view([original, rgb, segmentation, boxes_image],
                              ['original', 'pseudo-source', 'segmentation', 'detections'],
                              [f'latency {latency_ms:.0f} ms', f'{rate:.1f} frames/s'])
        self.pub_composite.publish(rgb_to_image_msg(view, header))


def _stamp(header) -> tuple:
    return (header.stamp.sec, header.stamp.nanosec)


def main(args: Optional[List[str]] = None) -> int:
    """Run the detection node until shutdown; return 1 when its configuration is invalid."""
    return run_node(DetectionNode, NODE_NAME, args)


if __name__ == '__main__':
    raise SystemExit(main())
