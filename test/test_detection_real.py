"""The ONNX grid detector (YOLOX-Nano, COCO) on real fog and night frames."""

import cv2
import pytest

from ttm_ros.core.detection_metrics import PredictedBox, evaluate_map50, load_coco_ground_truth
from ttm_ros.core.detectors import DetectorSettings, build_detector

# mAP@50 of YOLOX-Nano on the 20 DAWN fog images, measured with pycocotools by an
# independent decoder (recorded with the data set): score threshold 0.01, NMS IoU 0.45.
DAWN_BASELINE_MAP50 = 0.394


def _detector(shared_data, threshold):
    return build_detector('onnx', DetectorSettings(
        model=str(shared_data / 'model-yolox-nano-coco' / 'yolox_nano.onnx'),
        config='yolox_nano_coco', score_threshold=threshold, nms_iou=0.45,
        class_map='coco_to_driving', num_threads=2))


def test_dawn_fog_map50_matches_baseline(shared_data):
    root = shared_data / 'fog-boxes-dawn'
    truth = load_coco_ground_truth(root / 'annotations_coco.json')
    detector = _detector(shared_data, 0.01)
    predictions = []
    for key in truth.images:
        bgr = cv2.imread(str(root / 'images' / f'{key}.jpg'))
        assert bgr is not None, key
        predictions += [PredictedBox(key, d.box, d.score, d.label)
                        for d in detector.detect(bgr[:, :, ::-1].copy())]
    scores = evaluate_map50(truth, predictions)
    assert len(truth.images) == 20
    assert abs(scores.map50 - DAWN_BASELINE_MAP50) <= 0.01, scores.as_dict()


def test_acdc_night_finds_a_car(shared_data):
    bgr = cv2.imread(str(shared_data / 'acdc-mooss-1024x512' / 'images' / 'GP010376_frame_000129_rgb_anon.png'))
    assert bgr is not None
    detections = _detector(shared_data, 0.3).detect(bgr[:, :, ::-1].copy())
    cars = [d for d in detections if d.label == 'car']
    assert cars, detections
    for car in cars:
        assert 0 <= car.box[0] < car.box[2] <= 1024 and 0 <= car.box[1] < car.box[3] <= 512
