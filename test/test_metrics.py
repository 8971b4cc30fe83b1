"""Tests of the confusion matrix and the scores derived from it, on hand-made masks."""

import math

import numpy as np
import pytest

from ttm_ros.core.errors import FrameError
from ttm_ros.core.metrics import ConfusionAccumulator, SegmentationScores, confusion_matrix, segmentation_scores


def test_perfect_match_scores_one():
    gt = np.array([[0, 0, 1], [2, 2, 255]], dtype=np.uint8)
    scores = segmentation_scores(gt.copy(), gt, num_classes=3)
    assert scores.pixel_accuracy == 1.0
    assert scores.miou == 1.0
    assert scores.miou_defined == 1.0
    np.testing.assert_array_equal(scores.iou, [1.0, 1.0, 1.0])
    assert scores.valid_pixels == 5


def test_matrix_layout():
    gt = np.array([0, 0, 1, 1, 2], dtype=np.uint8)
    pred = np.array([0, 1, 1, 255, 7], dtype=np.uint8)
    matrix = confusion_matrix(pred, gt, num_classes=3)
    expected = np.array([
        [1, 1, 0, 0],
        [0, 1, 0, 1],
        [0, 0, 0, 1],
    ])
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, expected)


def test_ignore_in_gt_skips_pixels():
    gt = np.array([0, 255, 255, 1], dtype=np.uint8)
    pred = np.array([0, 1, 0, 1], dtype=np.uint8)
    scores = segmentation_scores(pred, gt, num_classes=2)
    assert scores.valid_pixels == 2
    assert scores.pixel_accuracy == 1.0
    np.testing.assert_array_equal(scores.pred_pixels, [1, 1])


def test_ignore_or_invalid_prediction_is_miss():
    gt = np.array([0, 0, 0, 1], dtype=np.int64)
    pred = np.array([0, 255, -3, 1], dtype=np.int64)
    scores = segmentation_scores(pred, gt, num_classes=2)
    np.testing.assert_array_equal(scores.gt_pixels, [3, 1])
    np.testing.assert_array_equal(scores.pred_pixels, [1, 1])
    assert scores.iou[0] == pytest.approx(1 / 3)
    assert scores.iou[1] == 1.0
    assert scores.pixel_accuracy == pytest.approx(0.5)


def test_empty_class_is_nan():
    gt = np.array([0, 0, 1, 1], dtype=np.uint8)
    pred = np.array([0, 0, 1, 0], dtype=np.uint8)
    scores = segmentation_scores(pred, gt, num_classes=3)
    assert math.isnan(scores.iou[2])
    assert scores.iou[0] == pytest.approx(2 / 3)
    assert scores.iou[1] == pytest.approx(1 / 2)
    assert scores.miou == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert scores.miou_defined == pytest.approx(scores.miou)


def test_false_positive_class_only_in_defined_mean():
    gt = np.array([0, 0, 0, 0], dtype=np.uint8)
    pred = np.array([0, 0, 0, 2], dtype=np.uint8)
    scores = segmentation_scores(pred, gt, num_classes=3)
    assert scores.iou[2] == 0.0
    assert math.isnan(scores.iou[1])
    assert scores.miou == pytest.approx(3 / 4)
    assert scores.miou_defined == pytest.approx((3 / 4 + 0.0) / 2)


def test_no_valid_pixels_gives_nan():
    gt = np.full((2, 2), 255, dtype=np.uint8)
    scores = segmentation_scores(np.zeros((2, 2), np.uint8), gt)
    assert scores.valid_pixels == 0
    assert math.isnan(scores.miou)
    assert math.isnan(scores.miou_defined)
    assert math.isnan(scores.pixel_accuracy)
    assert np.isnan(scores.iou).all()


def test_two_frames_equal_concatenation():
    rng = np.random.default_rng(3)
    gt_a = rng.integers(0, 19, (6, 7)).astype(np.uint8)
    gt_b = rng.integers(0, 19, (6, 5)).astype(np.uint8)
    gt_a[0, :3] = 255
    gt_b[2, 2] = 255
    pred_a = np.where(rng.random((6, 7)) < 0.6, gt_a, rng.integers(0, 19, (6, 7))).astype(np.uint8)
    pred_b = np.where(rng.random((6, 5)) < 0.6, gt_b, 255).astype(np.uint8)

    accumulator = ConfusionAccumulator()
    first = accumulator.update(pred_a, gt_a)
    accumulator.update(pred_b, gt_b)
    together = confusion_matrix(np.concatenate([pred_a, pred_b], axis=1), np.concatenate([gt_a, gt_b], axis=1))

    assert accumulator.frames == 2
    np.testing.assert_array_equal(first, confusion_matrix(pred_a, gt_a))
    np.testing.assert_array_equal(accumulator.matrix, together)
    joint = accumulator.scores()
    reference = SegmentationScores.from_matrix(together)
    np.testing.assert_array_equal(joint.iou, reference.iou)
    assert joint.miou == reference.miou
    assert joint.pixel_accuracy == reference.pixel_accuracy


def test_gt_outside_range_rejected():
    with pytest.raises(FrameError, match='19'):
        confusion_matrix(np.zeros(2, np.uint8), np.array([3, 19], np.uint8))


def test_shape_and_dtype_rejected():
    with pytest.raises(FrameError, match='shape'):
        confusion_matrix(np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8))
    with pytest.raises(FrameError, match='integer'):
        confusion_matrix(np.zeros(2, np.float32), np.zeros(2, np.uint8))


def test_as_dict_names():
    gt = np.array([0, 1], dtype=np.uint8)
    result = segmentation_scores(gt, gt, num_classes=2).as_dict(['road', 'sidewalk'])
    assert result['iou'] == {'road': 1.0, 'sidewalk': 1.0}
    assert result['miou'] == 1.0
    with pytest.raises(ValueError):
        segmentation_scores(gt, gt, num_classes=2).as_dict(['road'])
