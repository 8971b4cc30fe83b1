"""Semantic-segmentation metrics: confusion matrix, per-class IoU, mIoU, pixel accuracy.

Conventions:
- `gt` and `pred` are integer masks of the same (H, W) shape holding class ids
  0..C-1 (Cityscapes trainIds for C = 19);
- a ground-truth pixel equal to `ignore` (255) is skipped entirely;
- any other ground-truth value outside 0..C-1 raises `FrameError` (map it to
  `ignore` first, as `labels.load_label` does);
- a prediction outside 0..C-1 (the ignore id 255, a negative or too large id) on a
  valid ground-truth pixel is a miss for that ground-truth class: it counts in the
  class's ground-truth pixels but in no class's predicted pixels.

The matrix has shape (C, C + 1), int64: row = ground-truth class, column = predicted
class, and the extra last column counts the predictions outside 0..C-1.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Sequence

import numpy as np

from ttm_ros.core.errors import FrameError

DEFAULT_NUM_CLASSES = 19
DEFAULT_IGNORE = 255


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, num_classes: int = DEFAULT_NUM_CLASSES,
                     ignore: int = DEFAULT_IGNORE) -> np.ndarray:
    """Count (ground truth, prediction) pairs of one frame into a (C, C + 1) int64 matrix.

    See the module docstring for the ignore and out-of-range rules. Matrices of
    several frames add up: the sum is the matrix of the frames taken together.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise FrameError(f'prediction shape {pred.shape} differs from ground-truth shape {gt.shape}; '
                         'resize the prediction to the label size (nearest neighbour)')
    for name, array in (('prediction', pred), ('ground truth', gt)):
        if not np.issubdtype(array.dtype, np.integer):
            raise FrameError(f'{name} must contain integer class ids, got dtype {array.dtype}')

    gt = gt.ravel().astype(np.int64)
    pred = pred.ravel().astype(np.int64)
    valid = gt != ignore
    gt = gt[valid]
    pred = pred[valid]
    outside = (gt < 0) | (gt >= num_classes)
    if outside.any():
        values = np.unique(gt[outside])[:10].tolist()
        raise FrameError(f'ground truth contains ids {values} outside 0..{num_classes - 1} that are not the '
                         f'ignore id {ignore}; map them to {ignore} before scoring')

    pred = np.where((pred >= 0) & (pred < num_classes), pred, num_classes)
    counts = np.bincount(gt * (num_classes + 1) + pred, minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class SegmentationScores:
    """Scores of a confusion matrix (see the module docstring for its layout).

    Definitions, per class c with TP = matrix[c, c]:
    - `gt_pixels[c]`: valid ground-truth pixels of class c (row sum, misses included);
    - `pred_pixels[c]`: pixels predicted as c on valid ground truth (column sum);
    - `iou[c]` = TP / (gt_pixels + pred_pixels - TP); NaN when c is absent from both;
    - `miou`: mean of `iou` over the classes present in the ground truth
      (gt_pixels > 0). A class predicted but absent from the ground truth does not
      count here; this is the mean IoU usually reported for single frames;
    - `miou_defined`: mean of `iou` over every class with a defined IoU (present in
      ground truth or prediction), so false-positive classes lower it with IoU 0.
      Over a whole dataset where every class occurs, both values are equal;
    - `pixel_accuracy`: sum of TP / valid ground-truth pixels.
    Every mean is NaN when there is no valid ground-truth pixel.
    """

    iou: np.ndarray
    gt_pixels: np.ndarray
    pred_pixels: np.ndarray
    true_positives: np.ndarray
    miou: float
    miou_defined: float
    pixel_accuracy: float
    valid_pixels: int

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> 'SegmentationScores':
        """Compute the scores of a (C, C + 1) confusion matrix."""
        matrix = np.asarray(matrix, dtype=np.int64)
        num_classes = matrix.shape[0]
        if matrix.ndim != 2 or matrix.shape[1] != num_classes + 1:
            raise ValueError(f'a confusion matrix has shape (C, C + 1), got {matrix.shape}')

        true_positives = np.diag(matrix[:, :num_classes]).copy()
        gt_pixels = matrix.sum(axis=1)
        pred_pixels = matrix[:, :num_classes].sum(axis=0)
        union = gt_pixels + pred_pixels - true_positives
        with np.errstate(invalid='ignore', divide='ignore'):
            iou = np.where(union > 0, true_positives / np.maximum(union, 1), np.nan)
        valid_pixels = int(gt_pixels.sum())
        present = gt_pixels > 0
        return cls(
            iou=iou,
            gt_pixels=gt_pixels,
            pred_pixels=pred_pixels,
            true_positives=true_positives,
            miou=float(iou[present].mean()) if present.any() else float('nan'),
            miou_defined=float(np.nanmean(iou)) if (union > 0).any() else float('nan'),
            pixel_accuracy=float(true_positives.sum() / valid_pixels) if valid_pixels else float('nan'),
            valid_pixels=valid_pixels,
        )

    def as_dict(self, class_names: Optional[Sequence[str]] = None) -> Dict[str, object]:
        """Return the scores as plain Python values (NaN kept), per-class IoU keyed by name."""
        names = list(class_names) if class_names is not None else [str(i) for i in range(len(self.iou))]
        if len(names) != len(self.iou):
            raise ValueError(f'{len(names)} class names given for {len(self.iou)} classes')
        return {
            'pixel_accuracy': self.pixel_accuracy,
            'miou': self.miou,
            'miou_defined': self.miou_defined,
            'valid_pixels': self.valid_pixels,
            'iou': {name: float(value) for name, value in zip(names, self.iou)},
        }


class ConfusionAccumulator:
    """Sum of the confusion matrices of many frames (dataset-level scores)."""

    def __init__(self, num_classes: int = DEFAULT_NUM_CLASSES, ignore: int = DEFAULT_IGNORE):
        if num_classes < 1:
            raise ValueError(f'num_classes={num_classes} is invalid; use 1 or more')
        self.num_classes = num_classes
        self.ignore = ignore
        self.matrix = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
        self.frames = 0

    def update(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """Add one frame; return that frame's own matrix (for per-frame scores)."""
        frame_matrix = confusion_matrix(pred, gt, self.num_classes, self.ignore)
        self.matrix += frame_matrix
        self.frames += 1
        return frame_matrix

    def scores(self) -> SegmentationScores:
        """Return the scores of every frame added so far."""
        return SegmentationScores.from_matrix(self.matrix)


def segmentation_scores(pred: np.ndarray, gt: np.ndarray, num_classes: int = DEFAULT_NUM_CLASSES,
                        ignore: int = DEFAULT_IGNORE) -> SegmentationScores:
    """Return the scores of one frame (shortcut for `confusion_matrix` + `from_matrix`)."""
    return SegmentationScores.from_matrix(confusion_matrix(pred, gt, num_classes, ignore))


__all__ = ['ConfusionAccumulator', 'SegmentationScores', 'confusion_matrix', 'segmentation_scores']
