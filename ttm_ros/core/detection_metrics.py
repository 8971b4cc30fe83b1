"""Detection metric: average precision at IoU 0.5 (mAP@50), per class and overall.

The matching and the precision/recall integration are pycocotools' COCOeval (101
recall points, at most 100 detections per image, area range "all"), run with the single
IoU threshold 0.5. The overall value is the mean over the classes that have at least
one ground-truth box; a class without ground truth gets no AP (NaN).

Box conventions at each boundary (see `ttm_ros.core.detectors.boxes`):
- `GroundTruthBox.box` and `PredictedBox.box` are corners (x_min, y_min, x_max, y_max)
  in image pixels;
- COCO JSON `bbox` is (x_min, y_min, width, height), converted on load;
- BDD100K JSON `box2d` is {x1, y1, x2, y2}, read as corners with width x2 - x1;
- vision_msgs/Detection2D is centre/size; `ttm_ros.ros.detection_msgs` converts it.
Images are keyed by the file name without extension (the frame id of the demo).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import pathlib
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ttm_ros.core.detectors.boxes import coco_to_corners, corners_to_coco
from ttm_ros.core.errors import ConfigurationError

PathLike = Union[str, pathlib.Path]

#: BDD100K category names that differ from the evaluated (COCO-style) labels.
BDD100K_CATEGORY_MAP: Dict[str, str] = {'pedestrian': 'person', 'motor': 'motorcycle',
                                        'bike': 'bicycle'}


@dataclasses.dataclass(frozen=True)
class GroundTruthBox:
    """One annotated object: image key, corner box in pixels, label; crowd boxes are ignored."""

    image: str
    box: Tuple[float, float, float, float]
    label: str
    crowd: bool = False


@dataclasses.dataclass(frozen=True)
class PredictedBox:
    """One detection to score: image key, corner box in pixels, score in [0, 1], label."""

    image: str
    box: Tuple[float, float, float, float]
    score: float
    label: str


@dataclasses.dataclass
class GroundTruth:
    """Annotated images (key -> (height, width)), boxes and the evaluated class labels."""

    images: Dict[str, Tuple[int, int]]
    boxes: List[GroundTruthBox]
    classes: Tuple[str, ...]


@dataclasses.dataclass
class DetectionScores:
    """mAP@50 overall and per class (NaN for a class without ground truth)."""

    map50: float
    per_class: Dict[str, float]
    num_ground_truth: Dict[str, int]
    num_predictions: int

    def as_dict(self) -> Dict[str, object]:
        """Return a JSON-ready dict (NaN written as None)."""
        clean = {name: (None if math.isnan(value) else round(value, 6))
                 for name, value in self.per_class.items()}
        return {'map50': None if math.isnan(self.map50) else round(self.map50, 6),
                'ap50_per_class': clean, 'ground_truth_boxes': dict(self.num_ground_truth),
                'predictions': self.num_predictions}


def image_key(file_name: str) -> str:
    """Return the key of an image: its file name without folders and extension."""
    return pathlib.PurePath(file_name).stem


def load_coco_ground_truth(path: PathLike) -> GroundTruth:
    """Read COCO JSON ground truth; `bbox` (x, y, w, h) becomes corners."""
    document = _read_json(path)
    names = {category['id']: str(category['name']) for category in document.get('categories', [])}
    images = {image['id']: image for image in document.get('images', [])}
    boxes = []
    for annotation in document.get('annotations', []):
        image = images.get(annotation['image_id'])
        label = names.get(annotation['category_id'])
        if image is None or label is None:
            raise ConfigurationError(
                f'{path}: annotation {annotation.get("id")} names image {annotation["image_id"]} or '
                f'category {annotation["category_id"]}, which the file does not define')
        corners = coco_to_corners(annotation['bbox'])[0]
        boxes.append(GroundTruthBox(image_key(image['file_name']), tuple(float(v) for v in corners),
                                    label, bool(annotation.get('iscrowd', 0))))
    return GroundTruth({image_key(i['file_name']): (int(i['height']), int(i['width']))
                        for i in images.values()}, boxes, tuple(dict.fromkeys(names.values())))


def load_bdd100k_ground_truth(path: PathLike, classes: Optional[Sequence[str]] = None,
                              category_map: Mapping[str, str] = BDD100K_CATEGORY_MAP,
                              image_size: Tuple[int, int] = (720, 1280)) -> GroundTruth:
    """Read BDD100K detection labels (a list of frames with `labels[].box2d`).

    Categories are renamed with `category_map` (pedestrian -> person, ...); labels
    without `box2d` (lanes, drivable area) are skipped, and so are categories outside
    `classes` when it is given. A `crowd` attribute marks an ignored box. Every
    BDD100K frame is 1280x720, which `image_size` (height, width) records.
    """
    document = _read_json(path)
    frames = document.get('frames', document) if isinstance(document, dict) else document
    boxes, images, seen = [], {}, []
    for frame in frames:
        key = image_key(frame['name'])
        images[key] = image_size
        for label in frame.get('labels') or []:
            box = label.get('box2d')
            if box is None:
                continue
            name = category_map.get(label['category'], label['category'])
            if classes is not None and name not in classes:
                continue
            seen.append(name)
            crowd = bool((label.get('attributes') or {}).get('crowd', False))
            boxes.append(GroundTruthBox(key, (float(box['x1']), float(box['y1']), float(box['x2']),
                                              float(box['y2'])), name, crowd))
    return GroundTruth(images, boxes, tuple(classes) if classes is not None else tuple(dict.fromkeys(seen)))


def evaluate_map50(ground_truth: GroundTruth, predictions: Sequence[PredictedBox]) -> DetectionScores:
    """Score predictions against ground truth with pycocotools at IoU 0.5.

    Raises ConfigurationError for a prediction whose label is not a ground-truth class
    or whose image is not annotated, naming the value (map labels with a class map).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    # 1. Ids: images and categories numbered from 1 in a fixed order.
    image_ids = {key: index for index, key in enumerate(sorted(ground_truth.images), start=1)}
    category_ids = {name: index for index, name in enumerate(ground_truth.classes, start=1)}
    _check_predictions(predictions, image_ids, category_ids)

    # 2. Ground truth and results in COCO form.
    coco_gt = COCO()
    coco_gt.dataset = _coco_dataset(ground_truth, image_ids, category_ids)
    results = [{'image_id': image_ids[p.image], 'category_id': category_ids[p.label],
                'bbox': [float(v) for v in corners_to_coco(p.box)[0]], 'score': float(p.score)}
               for p in predictions]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results) if results else COCO()
        if not results:
            coco_dt.dataset = {'images': coco_gt.dataset['images'], 'annotations': [],
                               'categories': coco_gt.dataset['categories']}
            coco_dt.createIndex()

        # 3. COCOeval with the single IoU threshold 0.5.
        evaluation = COCOeval(coco_gt, coco_dt, 'bbox')
        evaluation.params.iouThrs = np.array([0.5])
        evaluation.evaluate()
        evaluation.accumulate()
    return _scores(evaluation, ground_truth, category_ids, len(predictions))


def _check_predictions(predictions, image_ids, category_ids) -> None:
    for prediction in predictions:
        if prediction.label not in category_ids:
            raise ConfigurationError(
                f'prediction label {prediction.label!r} is not a ground-truth class '
                f'({", ".join(category_ids)}); map the detector labels with detector.class_map')
        if prediction.image not in image_ids:
            raise ConfigurationError(
                f'prediction for image {prediction.image!r}, which the ground truth does not annotate')


def _coco_dataset(ground_truth, image_ids, category_ids) -> Dict[str, list]:
    annotations = []
    for index, box in enumerate(ground_truth.boxes, start=1):
        x, y, w, h = (float(v) for v in corners_to_coco(box.box)[0])
        annotations.append({'id': index, 'image_id': image_ids[box.image], 'bbox': [x, y, w, h],
                            'area': w * h, 'iscrowd': int(box.crowd),
                            'category_id': category_ids[box.label]})
    images = [{'id': image_ids[key], 'file_name': key, 'height': size[0], 'width': size[1]}
              for key, size in ground_truth.images.items()]
    categories = [{'id': index, 'name': name} for name, index in category_ids.items()]
    return {'images': images, 'annotations': annotations, 'categories': categories}


def _scores(evaluation, ground_truth, category_ids, num_predictions) -> DetectionScores:
    # precision: [IoU thresholds, recall points, categories, area ranges, max detections];
    # -1 marks a category without ground truth.
    precision = evaluation.eval['precision'][0, :, :, 0, -1]
    counts = {name: 0 for name in category_ids}
    for box in ground_truth.boxes:
        if not box.crowd:
            counts[box.label] += 1
    per_class = {}
    for name, category_id in category_ids.items():
        column = precision[:, evaluation.params.catIds.index(category_id)]
        per_class[name] = float(np.mean(column)) if counts[name] and np.all(column > -1) else math.nan
    present = [value for value in per_class.values() if not math.isnan(value)]
    overall = float(np.mean(present)) if present else math.nan
    return DetectionScores(overall, per_class, counts, num_predictions)


def _read_json(path: PathLike):
    try:
        with open(path, encoding='utf-8') as file:
            return json.load(file)
    except FileNotFoundError as error:
        raise ConfigurationError(f'ground-truth file {path} not found; give a COCO or BDD100K JSON file') from error
    except json.JSONDecodeError as error:
        raise ConfigurationError(f'ground-truth file {path} is not valid JSON: {error}') from error
