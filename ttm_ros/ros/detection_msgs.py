"""Conversion between `Detection` and vision_msgs (Detection2DArray, LabelInfo).

vision_msgs/BoundingBox2D is centre/size: `center.position.x/y` is the box centre and
`size_x`/`size_y` its width and height, in pixels of the input frame, with `theta` 0.
`Detection` boxes are corners (x_min, y_min, x_max, y_max) in the same pixels, so a
round trip is exact up to float64 rounding.
"""

from __future__ import annotations

from typing import List, Sequence

from vision_msgs.msg import (BoundingBox2D, Detection2D, Detection2DArray, LabelInfo,
                             ObjectHypothesisWithPose, VisionClass)

from ttm_ros.core.detectors.base import Detection
from ttm_ros.core.detectors.boxes import center_size_to_corners, corners_to_center_size


def detections_to_msg(detections: Sequence[Detection], header) -> Detection2DArray:
    """Return a Detection2DArray with one Detection2D (one hypothesis) per detection."""
    message = Detection2DArray(header=header)
    for detection in detections:
        cx, cy, width, height = corners_to_center_size(detection.box)[0]
        bbox = BoundingBox2D(size_x=float(width), size_y=float(height))
        bbox.center.position.x, bbox.center.position.y = float(cx), float(cy)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = detection.label
        hypothesis.hypothesis.score = float(detection.score)
        message.detections.append(Detection2D(header=header, results=[hypothesis], bbox=bbox))
    return message


def detections_from_msg(message) -> List[Detection]:
    """Return the detections of a Detection2DArray: the best hypothesis of each Detection2D."""
    detections = []
    for item in message.detections:
        if not item.results:
            continue
        best = max(item.results, key=lambda result: result.hypothesis.score)
        box = center_size_to_corners([item.bbox.center.position.x, item.bbox.center.position.y,
                                      item.bbox.size_x, item.bbox.size_y])[0]
        detections.append(Detection(tuple(float(v) for v in box), float(best.hypothesis.score),
                                    best.hypothesis.class_id))
    return detections


def label_info_msg(class_names: Sequence[str], threshold: float, header=None) -> LabelInfo:
    """Return a LabelInfo whose class_map numbers the labels 0..N-1 in order."""
    message = LabelInfo(threshold=float(threshold))
    if header is not None:
        message.header = header
    message.class_map = [VisionClass(class_id=index, class_name=name)
                         for index, name in enumerate(class_names)]
    return message
