"""Detector core: box geometry, NMS, class maps, fusion and the transformers backend."""

import numpy as np
import pytest

from ttm_ros.core.detectors import DETECTORS, DetectorSettings, build_detector
from ttm_ros.core.detectors.base import Detection, RawDetections, finalize, load_class_map
from ttm_ros.core.detectors.boxes import (batched_nms, center_size_to_corners, clip_corners,
                                          coco_to_corners, corners_to_center_size, corners_to_coco,
                                          iou_matrix, nms)
from ttm_ros.core.detectors.fusion import fuse_detections
from ttm_ros.core.detectors.onnx_yolox import decode_grid, grid_cells, letterbox
from ttm_ros.core.errors import ConfigurationError


def test_box_forms_round_trip():
    corners = np.array([[10.0, 20.0, 50.0, 80.0], [0.5, 1.5, 2.5, 3.0]])
    assert np.allclose(corners_to_center_size(corners), [[30, 50, 40, 60], [1.5, 2.25, 2, 1.5]])
    assert np.allclose(center_size_to_corners(corners_to_center_size(corners)), corners)
    assert np.allclose(corners_to_coco(corners)[0], [10, 20, 40, 60])
    assert np.allclose(coco_to_corners(corners_to_coco(corners)), corners)


def test_clip_and_iou():
    assert np.allclose(clip_corners([[-5, -5, 200, 50]], height=40, width=100), [[0, 0, 100, 40]])
    assert iou_matrix([[0, 0, 10, 10]], [[5, 0, 15, 10]])[0, 0] == pytest.approx(50 / 150)
    assert iou_matrix([[0, 0, 10, 10]], [[20, 20, 30, 30]])[0, 0] == 0.0


def test_nms_keeps_best_and_separates_classes():
    boxes = [[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]]
    scores = [0.8, 0.9, 0.5]
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert batched_nms(boxes, scores, [0, 1, 0], 0.5).tolist() == [1, 0, 2]


def test_finalize_threshold_map_clip_and_count():
    raw = RawDetections(np.array([[-10, 0, 20, 30], [0, 0, 5, 5], [0, 0, 8, 8], [200, 200, 300, 300]]),
                        np.array([0.9, 0.2, 0.6, 0.95]), ['motorbike', 'car', 'dog', 'car'])
    result = finalize(raw, height=50, width=100, score_threshold=0.3, max_detections=10,
                      class_map={'motorbike': 'motorcycle', 'car': 'car'})
    # 'car' 0.2 is under the threshold, 'dog' is unmapped, the last box lies outside the frame.
    assert result == [Detection((0.0, 0.0, 20.0, 30.0), 0.9, 'motorcycle')]


def test_class_map_file_and_errors(tmp_path):
    assert load_class_map('') is None
    assert load_class_map('coco_to_driving')['motorbike'] == 'motorcycle'
    path = tmp_path / 'map.yaml'
    path.write_text('car: vehicle\ndog: null\n')
    assert load_class_map(str(path)) == {'car': 'vehicle'}
    with pytest.raises(ConfigurationError, match='not found'):
        load_class_map('no_such_map')


def test_registry_names_and_unknown():
    assert DETECTORS.names() == ['onnx', 'torchvision', 'transformers']
    with pytest.raises(ConfigurationError, match='unknown detector'):
        build_detector('nope', DetectorSettings())


def test_torchvision_missing_is_configuration_error():
    try:
        import torchvision  # noqa: F401
        pytest.skip('torchvision is installed here')
    except (ImportError, RuntimeError):
        pass
    with pytest.raises(ConfigurationError, match='needs torchvision'):
        build_detector('torchvision', DetectorSettings(model='fasterrcnn_resnet50_fpn'))


def test_yolox_grid_layout_and_decode():
    cells, strides = grid_cells(416, 416, (8, 16, 32))
    assert len(cells) == 52 * 52 + 26 * 26 + 13 * 13 == 3549
    assert cells[1].tolist() == [1, 0]  # x fastest
    assert cells[52].tolist() == [0, 1]
    assert strides[52 * 52] == 16
    row = np.zeros((1, 7))
    row[0, :5] = [0.5, 0.25, np.log(2.0), 0.0, 0.5]
    row[0, 5:] = [0.2, 0.8]
    boxes, scores = decode_grid(row, cells[1:2], strides[1:2])
    # centre ((0.5 + 1) * 8, 0.25 * 8) = (12, 2), size (16, 8)
    assert np.allclose(boxes, [[4, -2, 20, 6]])
    assert np.allclose(scores, [[0.1, 0.4]])


def test_letterbox_top_left_and_scale():
    rgb = np.full((100, 200, 3), 7, np.uint8)
    canvas, ratio = letterbox(rgb, 416, 416, 114)
    assert ratio == pytest.approx(2.08)
    assert canvas.shape == (416, 416, 3)
    assert np.all(canvas[:208] == 7)
    assert np.all(canvas[208:] == 114)


def _detection(box, score, label='car'):
    return Detection(tuple(float(v) for v in box), score, label)


def test_weighted_box_fusion():
    original = [_detection((0, 0, 10, 10), 0.9), _detection((50, 50, 60, 60), 0.6)]
    translated = [_detection((2, 0, 12, 10), 0.3), _detection((0, 0, 10, 10), 0.8, 'bus')]
    fused = fuse_detections([original, translated], 'wbf', 0.55, 10)
    cars = [d for d in fused if d.label == 'car']
    merged = max(cars, key=lambda d: d.score)
    assert merged.box == pytest.approx((0.5, 0, 10.5, 10))  # score-weighted mean 0.9:0.3
    assert merged.score == pytest.approx(0.6)  # mean of two sources
    alone = [d for d in cars if d is not merged][0]
    assert alone.score == pytest.approx(0.3)  # found in one of two frames: half the score
    assert [d.label for d in fused].count('bus') == 1


def test_nms_fusion_and_none():
    original = [_detection((0, 0, 10, 10), 0.9)]
    translated = [_detection((1, 0, 11, 10), 0.95), _detection((40, 40, 50, 50), 0.5)]
    assert fuse_detections([original, translated], 'nms', 0.5, 10) == translated
    assert fuse_detections([original, translated], 'none', 0.5, 1) == translated[:1]


@pytest.mark.parametrize('builder', ['save_tiny_detr', 'save_tiny_rtdetr'])
def test_transformers_detector_reload(tmp_path, builder):
    import tiny_detector
    import torch
    from transformers import AutoImageProcessor, AutoModelForObjectDetection

    folder = getattr(tiny_detector, builder)(tmp_path / builder)
    detector = build_detector('transformers', DetectorSettings(model=str(folder), device='cpu',
                                                               score_threshold=0.0))
    rgb = np.random.default_rng(1).integers(0, 256, (75, 101, 3), dtype=np.uint8)
    detections = detector.detect(rgb)

    # The same folder through transformers directly gives the same boxes.
    model = AutoModelForObjectDetection.from_pretrained(folder).eval()
    processor = AutoImageProcessor.from_pretrained(folder)
    with torch.inference_mode():
        outputs = model(**processor(images=rgb, return_tensors='pt'))
    expected = processor.post_process_object_detection(outputs, threshold=0.0, target_sizes=[(75, 101)])[0]
    assert len(detections) == len(expected['scores']) == 10
    assert detector.class_names == ('car', 'person', 'bus')
    assert sorted(d.score for d in detections) == pytest.approx(sorted(expected['scores'].tolist()), abs=1e-6)
    for detection in detections:
        x0, y0, x1, y1 = detection.box
        assert 0 <= x0 <= x1 <= 101
        assert 0 <= y0 <= y1 <= 75
        assert detection.label in ('car', 'person', 'bus')


def test_transformers_detector_missing_model(tmp_path):
    with pytest.raises(ConfigurationError, match='detector.model'):
        build_detector('transformers', DetectorSettings(model=str(tmp_path / 'none'), device='cpu'))
