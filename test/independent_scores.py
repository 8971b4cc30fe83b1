"""Segmentation scores computed with plain numpy, independent of ttm_ros.core.metrics.

The demo and evaluation tests compare their reported numbers with these.
"""

import numpy as np


def independent_scores(pairs):
    """Return (mIoU, pixel accuracy, per-class IoU) of (prediction, trainId label) pairs.

    mIoU is the mean over the classes present in the labels; label values above 18 are
    ignored, and every pixel is counted over all pairs together.
    """
    intersection, union = np.zeros(19), np.zeros(19)
    present = np.zeros(19, bool)
    correct = valid = 0
    for prediction, label in pairs:
        keep = label <= 18
        correct += int((prediction[keep] == label[keep]).sum())
        valid += int(keep.sum())
        for c in range(19):
            in_label = (label == c) & keep
            in_prediction = (prediction == c) & keep
            present[c] |= in_label.any()
            intersection[c] += (in_label & in_prediction).sum()
            union[c] += (in_label | in_prediction).sum()
    iou = np.where(union > 0, intersection / np.maximum(union, 1), np.nan)
    return float(iou[present].mean()), correct / valid, iou
