"""mAP@50 through pycocotools on hand-made cases, and the ground-truth loaders."""

import json
import math

import pytest

from ttm_ros.core.detection_metrics import (GroundTruth, GroundTruthBox, PredictedBox, evaluate_map50,
                                            load_bdd100k_ground_truth, load_coco_ground_truth)
from ttm_ros.core.detectors.boxes import center_size_to_corners
from ttm_ros.core.errors import ConfigurationError


def _truth(*boxes):
    return GroundTruth({'frame': (100, 200)}, [GroundTruthBox('frame', b, label) for b, label in boxes],
                       ('car', 'person'))


def test_exact_match_scores_one():
    scores = evaluate_map50(_truth(((10, 10, 50, 40), 'car')),
                            [PredictedBox('frame', (10, 10, 50, 40), 0.9, 'car')])
    assert scores.map50 == pytest.approx(1.0)
    assert scores.per_class['car'] == pytest.approx(1.0)
    assert math.isnan(scores.per_class['person'])  # no ground truth: no AP


def test_shift_below_iou_half_scores_zero():
    # Shifted by 20 of 40 px: IoU = 20 * 30 / (2 * 1200 - 600) = 1/3.
    scores = evaluate_map50(_truth(((10, 10, 50, 40), 'car')),
                            [PredictedBox('frame', (30, 10, 70, 40), 0.9, 'car')])
    assert scores.map50 == pytest.approx(0.0)


def test_center_size_boxes_convert_to_corners():
    # A Detection2D-style centre/size box (cx 30, cy 25, w 40, h 30) is corners (10, 10, 50, 40).
    corners = tuple(center_size_to_corners([30, 25, 40, 30])[0])
    scores = evaluate_map50(_truth(((10, 10, 50, 40), 'car')),
                            [PredictedBox('frame', corners, 0.9, 'car')])
    assert scores.map50 == pytest.approx(1.0)
    # Read as corners instead, (30, 25, 40, 30) is a 10 x 5 box: no match.
    wrong = evaluate_map50(_truth(((10, 10, 50, 40), 'car')),
                           [PredictedBox('frame', (30, 25, 40, 30), 0.9, 'car')])
    assert wrong.map50 == pytest.approx(0.0)


def test_unknown_label_is_error_naming_it():
    with pytest.raises(ConfigurationError, match="'truck'"):
        evaluate_map50(_truth(((10, 10, 50, 40), 'car')), [PredictedBox('frame', (0, 0, 1, 1), 0.5, 'truck')])
    with pytest.raises(ConfigurationError, match="'elsewhere'"):
        evaluate_map50(_truth(((10, 10, 50, 40), 'car')), [PredictedBox('elsewhere', (0, 0, 1, 1), 0.5, 'car')])


def test_per_class_mean_and_no_predictions():
    truth = _truth(((10, 10, 50, 40), 'car'), ((100, 10, 120, 60), 'person'))
    scores = evaluate_map50(truth, [PredictedBox('frame', (10, 10, 50, 40), 0.9, 'car')])
    assert scores.per_class == pytest.approx({'car': 1.0, 'person': 0.0})
    assert scores.map50 == pytest.approx(0.5)
    assert evaluate_map50(truth, []).map50 == pytest.approx(0.0)


def test_coco_loader_converts_xywh(tmp_path):
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps({
        'images': [{'id': 7, 'file_name': 'dir/a.jpg', 'width': 200, 'height': 100}],
        'categories': [{'id': 3, 'name': 'car'}],
        'annotations': [{'id': 1, 'image_id': 7, 'category_id': 3, 'bbox': [10, 20, 30, 40], 'iscrowd': 0}]}))
    truth = load_coco_ground_truth(path)
    assert truth.images == {'a': (100, 200)}
    assert truth.boxes == [GroundTruthBox('a', (10.0, 20.0, 40.0, 60.0), 'car')]
    assert truth.classes == ('car',)


def test_bdd100k_loader_maps_categories(tmp_path):
    path = tmp_path / 'labels.json'
    path.write_text(json.dumps([{'name': 'b1c66a42-6f7d68ca.jpg', 'labels': [
        {'category': 'pedestrian', 'box2d': {'x1': 1, 'y1': 2, 'x2': 11, 'y2': 22}},
        {'category': 'car', 'box2d': {'x1': 5, 'y1': 5, 'x2': 50, 'y2': 40}, 'attributes': {'crowd': True}},
        {'category': 'traffic light', 'box2d': {'x1': 0, 'y1': 0, 'x2': 3, 'y2': 3}},
        {'category': 'lane', 'poly2d': []}]}]))
    truth = load_bdd100k_ground_truth(path, classes=('person', 'car'))
    assert truth.images == {'b1c66a42-6f7d68ca': (720, 1280)}
    assert truth.boxes == [GroundTruthBox('b1c66a42-6f7d68ca', (1.0, 2.0, 11.0, 22.0), 'person'),
                           GroundTruthBox('b1c66a42-6f7d68ca', (5.0, 5.0, 50.0, 40.0), 'car', crowd=True)]
    scores = evaluate_map50(truth, [PredictedBox('b1c66a42-6f7d68ca', (1, 2, 11, 22), 0.7, 'person')])
    assert scores.per_class['person'] == pytest.approx(1.0)
    assert math.isnan(scores.per_class['car'])  # only a crowd box: ignored
