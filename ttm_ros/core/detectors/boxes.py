"""Box geometry shared by the detectors, the node and the metric.

Convention everywhere in ttm_ros: a box is in pixels of the input frame, with
continuous coordinates whose origin is the top-left corner of the top-left pixel, x to
the right and y down. Pixel column j covers [j, j + 1), so a box around the whole
W x H frame is corners (0, 0, W, H). Three forms appear at the boundaries:
- corners `(x_min, y_min, x_max, y_max)`: detectors, NMS, fusion;
- centre/size `(cx, cy, w, h)`: vision_msgs/BoundingBox2D (`center.position`, `size_x`,
  `size_y`) and the raw output of YOLOX-style heads;
- COCO `(x, y, w, h)` with (x, y) the top-left corner: COCO JSON and pycocotools.
Arrays hold one box per row, float64 unless stated.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _rows(boxes) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    return array.reshape(-1, 4)


def corners_to_center_size(boxes) -> np.ndarray:
    """Convert corners (x_min, y_min, x_max, y_max) to (cx, cy, w, h)."""
    b = _rows(boxes)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2,
                     b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)


def center_size_to_corners(boxes) -> np.ndarray:
    """Convert (cx, cy, w, h) to corners (x_min, y_min, x_max, y_max)."""
    b = _rows(boxes)
    return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2,
                     b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], axis=1)


def corners_to_coco(boxes) -> np.ndarray:
    """Convert corners to COCO (x_min, y_min, w, h)."""
    b = _rows(boxes)
    return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)


def coco_to_corners(boxes) -> np.ndarray:
    """Convert COCO (x_min, y_min, w, h) to corners."""
    b = _rows(boxes)
    return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)


def clip_corners(boxes, height: int, width: int) -> np.ndarray:
    """Clip corner boxes to the frame [0, width] x [0, height]."""
    b = _rows(boxes).copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0.0, float(width))
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0.0, float(height))
    return b


def iou_matrix(first, second) -> np.ndarray:
    """Return the (N, M) intersection over union of two sets of corner boxes."""
    a, b = _rows(first), _rows(second)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    intersection = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def nms(boxes, scores: Sequence[float], iou_threshold: float) -> np.ndarray:
    """Return the indices kept by greedy non-maximum suppression, highest score first.

    A box is removed when its IoU with a kept, higher-scoring box is above
    `iou_threshold` (the rule of torchvision.ops.nms).
    """
    b = _rows(boxes)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')
    keep = []
    while order.size:
        best = order[0]
        keep.append(best)
        if order.size == 1:
            break
        overlaps = iou_matrix(b[best], b[order[1:]])[0]
        order = order[1:][overlaps <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores: Sequence[float], classes: Sequence[int],
                iou_threshold: float) -> np.ndarray:
    """Return the indices kept by NMS run separately per class, by descending score.

    Boxes of different classes never suppress each other: each class is offset by more
    than the largest coordinate, as torchvision.ops.batched_nms does.
    """
    b = _rows(boxes)
    if not len(b):
        return np.zeros(0, dtype=np.int64)
    offsets = np.asarray(classes, dtype=np.float64) * (np.abs(b).max() + 1.0)
    return nms(b + offsets[:, None], scores, iou_threshold)
