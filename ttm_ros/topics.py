"""Topic names, types and QoS of the TTM node, declared once.

The node creates its publishers and subscription from these names, the reference
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
          'reliable, keep last output.qos.depth', 'output.all_masks',
          'Stage times of one frame (`<stage>_ms` keys) with the input header; message "ok" '
          'or the reason of a translation fallback.'),
    Topic(CLASS_NAMES, 'std_msgs/msg/String', 'publish', 'reliable, transient local, keep last 1',
          'always', 'Class names of the mask values, one per line (line i = value i).'),
    Topic(DIAGNOSTICS, 'diagnostic_msgs/msg/DiagnosticArray', 'publish',
          'reliable, keep last output.qos.depth', 'always',
          'Every diagnostics.period seconds: frames in, processed, dropped, failed, fallbacks, '
          'rates, and mean and p95 latency of each stage in ms.'),
)
