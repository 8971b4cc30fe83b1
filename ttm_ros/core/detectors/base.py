"""The detector interface: one RGB frame in, labelled boxes in its pixels out.

Contract for every detector:
- input: numpy uint8 array (H, W, 3), RGB;
- output of `detect`: a list of `Detection`, highest score first, at most
  `max_detections`, each with `score >= score_threshold`, a box in corner form in
  pixels of the input frame (see `ttm_ros.core.detectors.boxes` for the convention),
  clipped to the frame, and the label after the class map (labels the class map does
  not name are dropped when a class map is set);
- `class_names` lists the labels `detect` can return, in a fixed order.

Backends implement `predict(rgb)`, which returns the model's own boxes, scores and
labels; `Detector.detect` applies the score threshold, class map, clipping and the
maximum count in one place.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import pathlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import yaml

from ttm_ros.core.detectors.boxes import clip_corners
from ttm_ros.core.errors import ConfigurationError

#: The 80 COCO detection classes in the order of the contiguous 0..79 indices that
#: YOLOX and most exported COCO detectors use.
COCO_CLASSES: Tuple[str, ...] = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush',
)

_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[3]


@dataclasses.dataclass(frozen=True)
class Detection:
    """One detected object.

    `box` is (x_min, y_min, x_max, y_max) in pixels of the input frame (continuous
    coordinates, origin at the top-left corner of the top-left pixel); `score` is in
    [0, 1]; `label` is the class name after the class map.
    """

    box: Tuple[float, float, float, float]
    score: float
    label: str


@dataclasses.dataclass
class DetectorSettings:
    """Settings of every detector; each backend reads the fields it uses.

    `model` is a hub id or local directory (transformers), an .onnx file, or a
    torchvision model name; `config` is the backend's YAML file (ONNX: input size,
    strides, classes); `class_map` maps model labels to the evaluated labels (see
    `load_class_map`).
    """

    model: str = ''
    config: str = ''
    device: str = 'auto'
    num_threads: int = 0
    score_threshold: float = 0.3
    nms_iou: float = 0.45
    max_detections: int = 100
    class_map: str = ''
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RawDetections:
    """A model's output for one frame: corner boxes (N, 4) in input pixels, scores (N,), labels."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: List[str]


class Detector(abc.ABC):
    """Base class of every detector (see the module docstring for the contract)."""

    name: str = ''

    def __init__(self, settings: Optional[DetectorSettings] = None):
        self.settings = settings or DetectorSettings()
        self.class_map: Optional[Dict[str, str]] = load_class_map(self.settings.class_map)

    @property
    @abc.abstractmethod
    def model_class_names(self) -> Sequence[str]:
        """Return the labels the model itself produces, in its index order."""

    @abc.abstractmethod
    def predict(self, rgb: np.ndarray) -> RawDetections:
        """Return the model's boxes, scores and labels for one RGB frame."""

    @property
    def class_names(self) -> Tuple[str, ...]:
        """The labels `detect` can return: the class map's targets, else the model's labels."""
        if self.class_map is None:
            return tuple(self.model_class_names)
        return tuple(dict.fromkeys(self.class_map.values()))

    def detect(self, rgb: np.ndarray) -> List[Detection]:
        """Return the detections of one RGB frame (see the module docstring)."""
        raw = self.predict(rgb)
        return finalize(raw, rgb.shape[0], rgb.shape[1], self.settings.score_threshold,
                        self.settings.max_detections, self.class_map)

    def close(self) -> None:
        """Release the model."""

    def describe(self) -> str:
        """Return one line for the start-up log: backend, model, device."""
        return self.name


def finalize(raw: RawDetections, height: int, width: int, score_threshold: float,
             max_detections: int, class_map: Optional[Mapping[str, str]]) -> List[Detection]:
    """Threshold, map, clip and sort raw detections; keep at most `max_detections`."""
    boxes = clip_corners(raw.boxes, height, width)
    scores = np.clip(np.asarray(raw.scores, dtype=np.float64).reshape(-1), 0.0, 1.0)
    detections = []
    for box, score, label in zip(boxes, scores, raw.labels):
        if score < score_threshold:
            continue
        if class_map is not None:
            if label not in class_map:
                continue
            label = class_map[label]
        if box[2] <= box[0] or box[3] <= box[1]:
            continue  # empty after clipping: entirely outside the frame
        detections.append(Detection(tuple(float(v) for v in box), float(score), str(label)))
    detections.sort(key=lambda detection: -detection.score)
    return detections[:max_detections]


def load_class_map(value: str) -> Optional[Dict[str, str]]:
    """Return {model label: evaluated label} from a YAML file, or None for no map.

    `value` is empty (no map: the model's labels pass unchanged), a path, or a bare
    name looked up in the package's config/class_maps/ folder. The file is a mapping of
    strings; a value of null drops that label, and labels the map does not name are
    dropped too.
    """
    if not value:
        return None
    path = _find_class_map(value)
    with open(path, encoding='utf-8') as file:
        document = yaml.safe_load(file)
    if not isinstance(document, dict) or not document:
        raise ConfigurationError(
            f'class map {path} must be a non-empty YAML mapping of model label -> label, '
            f'got {type(document).__name__}')
    return {str(source): str(target) for source, target in document.items() if target is not None}


def _find_class_map(value: str) -> pathlib.Path:
    path = pathlib.Path(os.path.expandvars(os.path.expanduser(value)))
    candidates = [path]
    if len(path.parts) == 1:
        import sys
        for folder in (_PACKAGE_ROOT / 'config' / 'class_maps',
                       pathlib.Path(sys.prefix) / 'share' / 'ttm_ros' / 'config' / 'class_maps'):
            candidates += [folder / value, folder / (value + '.yaml')]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        f'class map {value!r} not found (looked at {", ".join(map(str, candidates))}); give a YAML '
        'file such as config/class_maps/coco_to_driving.yaml, or an empty string for no map')


def resolve_detector_classes(spec: Any, source: str) -> Tuple[str, ...]:
    """Return class names from a list, the word 'coco', or a text file (one name per line)."""
    if isinstance(spec, (list, tuple)):
        return tuple(str(name) for name in spec)
    if isinstance(spec, str) and spec.lower() == 'coco':
        return COCO_CLASSES
    if isinstance(spec, str):
        path = pathlib.Path(os.path.expandvars(os.path.expanduser(spec)))
        if path.is_file():
            return tuple(line.strip() for line in path.read_text(encoding='utf-8').splitlines()
                         if line.strip())
    raise ConfigurationError(
        f'{source}: classes={spec!r} is invalid; give a list of names, "coco", or a text file '
        'with one class name per line')
