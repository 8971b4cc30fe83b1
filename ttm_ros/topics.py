"""Topic names, types and QoS of the TTM node and the detection node, declared once.

Each node creates its publishers and subscriptions from these names, the reference
page is rendered from them, and a test compares them with the running node's graph.
Names are relative, so a namespace or remapping moves them.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

CAMERA = 'camera'  # placeholder for the input.topic parameter in the table
PSEUDO_SOURCE = 'pseudo_source/image_raw'
MASK = 'segmentation/mask'
COLOR_MASK = 'segmentation/color_mask'
OVERLAY = 'segmentation/overlay'
MASK_BASE = 'segmentation/mask/base'
MASK_TRANSLATED = 'segmentation/mask/translated'
TIMING = 'segmentation/timing'
CLASS_NAMES = 'segmentation/class_names'
DIAGNOSTICS = '/diagnostics'
DETECTIONS = 'detection/detections'
DETECTION_OVERLAY = 'detection/overlay'
DETECTION_LABELS = 'detection/label_info'
DETECTION_COMPOSITE = 'detection/composite'
DETECTION_TIMING = 'detection/timing'


@dataclasses.dataclass(frozen=True)
class Topic:
    """One topic of the node: name, message type, direction, QoS and when it exists."""

    name: str
    message_type: str
    direction: str
    qos: str
    condition: str
    description: str


TTM_NODE_TOPICS: Tuple[Topic, ...] = (
    Topic('<input.topic>', 'sensor_msgs/msg/Image', 'subscribe',
          'input.qos.reliability, keep last input.qos.depth, volatile', 'input.transport = raw',
          'Camera frames.'),
    Topic('<input.topic>/compressed', 'sensor_msgs/msg/CompressedImage', 'subscribe',
          'as above', 'input.transport = compressed', 'Compressed camera frames (JPEG or PNG).'),
    Topic(PSEUDO_SOURCE, 'sensor_msgs/msg/Image', 'publish',
          'reliable, keep last output.qos.depth', 'always',
          'The translated (pseudo-source) frame, rgb8; the original frame when the translation was rejected.'),
    Topic(MASK, 'sensor_msgs/msg/Image', 'publish', 'reliable, keep last output.qos.depth', 'always',
          'Fused class mask, mono8 trainIds, 255 = unlabeled.'),
    Topic(COLOR_MASK, 'sensor_msgs/msg/Image', 'publish', 'reliable, keep last output.qos.depth',
          'output.color_mask', 'Fused mask in Cityscapes colours, rgb8.'),
    Topic(OVERLAY, 'sensor_msgs/msg/Image', 'publish', 'reliable, keep last output.qos.depth',
          'output.overlay', 'Colour mask blended over the original frame, rgb8.'),
    Topic(MASK_BASE, 'sensor_msgs/msg/Image', 'publish', 'reliable, keep last output.qos.depth',
          'output.all_masks', 'Mask of the original frame alone, mono8.'),
    Topic(MASK_TRANSLATED, 'sensor_msgs/msg/Image', 'publish', 'reliable, keep last output.qos.depth',
          'output.all_masks', 'Mask of the translated frame alone, mono8.'),
    Topic(TIMING, 'diagnostic_msgs/msg/DiagnosticArray', 'publish',
          'reliable, keep last output.qos.depth', 'output.timing',
          'One message per frame with the input header: stage times (`<stage>_ms` keys) and '
          'message "ok" or the reason of a translation fallback (level WARN); for a failed '
          'frame level ERROR and the reason.'),
    Topic(CLASS_NAMES, 'std_msgs/msg/String', 'publish', 'reliable, transient local, keep last 1',
          'always', 'Class names of the mask values, one per line (line i = value i).'),
    Topic(DIAGNOSTICS, 'diagnostic_msgs/msg/DiagnosticArray', 'publish',
          'reliable, keep last output.qos.depth', 'always',
          'Every diagnostics.period seconds: frames in, processed, dropped, failed, fallbacks, '
          'rates, and mean and p95 latency of each stage in ms.'),
)

DETECTION_NODE_TOPICS: Tuple[Topic, ...] = (
    Topic('<input.topic>', 'sensor_msgs/msg/Image', 'subscribe',
          'input.qos.reliability, keep last input.qos.depth, volatile', 'input.transport = raw',
          'Frames to detect on: the pseudo-source image of ttm_node by default.'),
    Topic('<input.topic>/compressed', 'sensor_msgs/msg/CompressedImage', 'subscribe',
          'as above', 'input.transport = compressed', 'Compressed frames to detect on.'),
    Topic('<original.topic>', 'sensor_msgs/msg/Image', 'subscribe', 'as <input.topic>',
          'original.topic set', 'Original camera frames, matched to the input by header stamp '
          'for fusion.mode and the composite view.'),
    Topic('<composite.segmentation_topic>', 'sensor_msgs/msg/Image', 'subscribe',
          'reliable, keep last output.qos.depth', 'output.composite and the topic set',
          'Segmentation overlay of ttm_node for the composite view.'),
    Topic(DETECTIONS, 'vision_msgs/msg/Detection2DArray', 'publish',
          'reliable, keep last output.qos.depth', 'always',
          'One Detection2D per box: bbox centre and size in pixels of the input frame, one '
          'hypothesis with the label string and a score in [0, 1]; the input header.'),
    Topic(DETECTION_OVERLAY, 'sensor_msgs/msg/Image', 'publish',
          'reliable, keep last output.qos.depth', 'output.overlay',
          'The input frame with boxes, labels and scores drawn, rgb8.'),
    Topic(DETECTION_LABELS, 'vision_msgs/msg/LabelInfo', 'publish',
          'reliable, transient local, keep last 1', 'always',
          'The labels the node can publish (class_id = position) and the score threshold.'),
    Topic(DETECTION_COMPOSITE, 'sensor_msgs/msg/Image', 'publish',
          'reliable, keep last output.qos.depth', 'output.composite; rendered only with a subscriber',
          'In-vehicle view, rgb8: original, pseudo-source, segmentation overlay and boxes in a '
          '2 x 2 grid with latency and frame rate written on it.'),
    Topic(DETECTION_TIMING, 'diagnostic_msgs/msg/DiagnosticArray', 'publish',
          'reliable, keep last output.qos.depth', 'output.timing',
          'One message per frame with the input header: stage times (`<stage>_ms` keys) and '
          'message "ok"; for a failed frame level ERROR and the reason.'),
    Topic(DIAGNOSTICS, 'diagnostic_msgs/msg/DiagnosticArray', 'publish',
          'reliable, keep last output.qos.depth', 'always',
          'Every diagnostics.period seconds: frames in, processed, dropped, failed, detections, '
          'fusion frames without an original, rates, and mean and p95 latency of each stage in ms.'),
)
