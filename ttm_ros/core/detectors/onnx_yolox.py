"""ONNX detector for single-stage models with raw grid outputs (the YOLOX layout).

Exported YOLOX models (and detectors that share its head) return one row per grid
cell of every stride, without decoding or NMS inside the graph. The YAML file
(`detector.config`) gives the input name and size, colour order, pad value, strides
and classes; config/models/yolox_nano_coco.yaml is an example. One frame goes through:
1. letterbox: r = min(H_in / h, W_in / w); the frame is resized bilinearly to
   (int(w r), int(h r)) and pasted at the top-left of an H_in x W_in canvas filled with
   `pad_value`; pixel values stay raw 0..255 (times `scale`), in `color_order`, NCHW;
2. one onnxruntime run; output (1, N, 5 + C) with N = sum over strides s of
   (H_in / s) (W_in / s) cells, row-major per stride (x fastest), columns
   [dx, dy, log_w, log_h, objectness, class scores...], objectness and class scores
   already passed through a sigmoid;
3. decode: cx = (dx + grid_x) s, cy = (dy + grid_y) s, w = exp(log_w) s,
   h = exp(log_h) s, then divide by r to get input-frame pixels;
4. score of class c = objectness x class score c; every (cell, class) pair with a score
   of at least `detector.score_threshold` is a candidate, and NMS runs per class with
   IoU `detector.nms_iou`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import yaml

from ttm_ros.core.detectors.base import (Detector, DetectorSettings, RawDetections,
                                         resolve_detector_classes)
from ttm_ros.core.detectors.boxes import batched_nms, center_size_to_corners
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.paths import resolve_config

LOGGER = logging.getLogger(__name__)

_ENV_VARIABLE = re.compile(r'\$(?:\{(\w+)\}|(\w+))')
_TOP_LEVEL_FIELDS = ('model', 'input', 'output', 'classes', 'runtime')
_INPUT_FIELDS = ('name', 'height', 'width', 'color_order', 'pad_value', 'scale')
_OUTPUT_FIELDS = ('name', 'strides')


@dataclasses.dataclass(frozen=True)
class YoloxConfig:
    """The parsed YAML file of the ONNX grid detector; sizes in pixels."""

    model_path: pathlib.Path
    input_name: str
    height: int
    width: int
    color_order: str
    pad_value: float
    scale: float
    output_name: str
    strides: Tuple[int, ...]
    class_names: Tuple[str, ...]
    source: str


def load_yolox_config(value: str, model_override: str = '') -> YoloxConfig:
    """Parse `detector.config` (a path or a name in config/models/) into a YoloxConfig."""
    if not value:
        raise ConfigurationError(
            'detector.config is empty; the onnx detector needs a YAML file such as '
            'config/models/yolox_nano_coco.yaml')
    path = resolve_config(value, 'models')
    source = str(path)
    with open(path, encoding='utf-8') as file:
        document = yaml.safe_load(file) or {}
    _check_fields(document, _TOP_LEVEL_FIELDS, '', source)
    inputs = _check_fields(document.get('input') or {}, _INPUT_FIELDS, 'input.', source)
    outputs = _check_fields(document.get('output') or {}, _OUTPUT_FIELDS, 'output.', source)
    model = model_override or str(document.get('model', ''))
    origin = 'detector.model' if model_override else f'model in {source}'
    color_order = str(inputs.get('color_order', 'BGR')).upper()
    if color_order not in ('RGB', 'BGR'):
        raise ConfigurationError(f'{source}: input.color_order={color_order!r} is invalid; use RGB or BGR')
    strides = tuple(int(s) for s in outputs.get('strides', (8, 16, 32)))
    return YoloxConfig(
        model_path=_model_path(model, path.parent, origin),
        input_name=str(inputs.get('name', '')),
        height=int(inputs.get('height', 0)), width=int(inputs.get('width', 0)),
        color_order=color_order, pad_value=float(inputs.get('pad_value', 114)),
        scale=float(inputs.get('scale', 1.0)), output_name=str(outputs.get('name', '')),
        strides=strides, class_names=resolve_detector_classes(document.get('classes', 'coco'), source),
        source=source)


def _check_fields(section: Any, allowed: Sequence[str], prefix: str, source: str) -> Dict[str, Any]:
    if not isinstance(section, dict):
        raise ConfigurationError(f'{source}: {prefix or "the file"} must be a mapping, got {section!r}')
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ConfigurationError(f'{source}: unknown field(s) {", ".join(prefix + u for u in unknown)}; '
                                 f'allowed: {", ".join(prefix + a for a in allowed)}')
    return section


def _model_path(value: str, base_dir: pathlib.Path, origin: str) -> pathlib.Path:
    if not value:
        raise ConfigurationError(f'no ONNX model given ({origin}); set detector.model to the .onnx file')
    missing = [a or b for a, b in _ENV_VARIABLE.findall(value) if (a or b) not in os.environ]
    if missing:
        raise ConfigurationError(
            f'model path {value!r} ({origin}) uses the environment variable {missing[0]}, which is '
            f'not set; export {missing[0]}=/path/to/data or pass the file as detector.model')
    path = pathlib.Path(os.path.expandvars(os.path.expanduser(value)))
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise ConfigurationError(f'ONNX model file {path} not found ({origin}: {value!r}); fix the path '
                                 'or pass the file as detector.model')
    return path


def letterbox(rgb: np.ndarray, height: int, width: int, pad_value: float) -> Tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio and paste at the top-left of a padded canvas.

    Returns the (height, width, 3) float32 canvas and the scale r (canvas pixels per
    input pixel); a canvas point p is the input point p / r.
    """
    ratio = min(height / rgb.shape[0], width / rgb.shape[1])
    new_w, new_h = max(1, int(rgb.shape[1] * ratio)), max(1, int(rgb.shape[0] * ratio))
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((height, width, 3), pad_value, dtype=np.float32)
    canvas[:new_h, :new_w] = resized
    return canvas, ratio


def grid_cells(height: int, width: int, strides: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Return the (N, 2) cell indices (x, y) and (N,) strides of every output row."""
    cells, cell_strides = [], []
    for stride in strides:
        rows, cols = height // stride, width // stride
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing='ij')
        cells.append(np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1))
        cell_strides.append(np.full(rows * cols, stride))
    return np.concatenate(cells).astype(np.float64), np.concatenate(cell_strides).astype(np.float64)


def decode_grid(output: np.ndarray, cells: np.ndarray, strides: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Return corner boxes (N, 4) in canvas pixels and per-class scores (N, C)."""
    rows = output.astype(np.float64)
    centers = (rows[:, 0:2] + cells) * strides[:, None]
    sizes = np.exp(np.minimum(rows[:, 2:4], 20.0)) * strides[:, None]
    boxes = center_size_to_corners(np.concatenate([centers, sizes], axis=1))
    return boxes, rows[:, 4:5] * rows[:, 5:]


class OnnxYoloxDetector(Detector):
    """Grid-output ONNX detector (see the module docstring)."""

    name = 'onnx'

    def __init__(self, settings: Optional[DetectorSettings] = None):
        super().__init__(settings)
        import onnxruntime  # optional dependency, imported when this backend is chosen

        self.config = load_yolox_config(self.settings.config, self.settings.model)
        self._session = self._create_session(onnxruntime)
        self._input_name, self._output_name = self._check_model()
        self._cells, self._strides = grid_cells(self.config.height, self.config.width, self.config.strides)
        self._check_rows()
        LOGGER.info('loaded %s', self.describe())

    def _create_session(self, ort):
        options = ort.SessionOptions()
        if self.settings.num_threads > 0:
            options.intra_op_num_threads = self.settings.num_threads
        providers = ['CPUExecutionProvider']
        if self.settings.device.startswith('cuda'):
            if 'CUDAExecutionProvider' in ort.get_available_providers():
                providers.insert(0, 'CUDAExecutionProvider')
            else:
                LOGGER.warning('detector.device=%s but onnxruntime has no CUDA provider '
                               '(install onnxruntime-gpu); running on the CPU', self.settings.device)
        try:
            return ort.InferenceSession(str(self.config.model_path), options, providers=providers)
        except Exception as error:  # onnxruntime raises its own exception types for bad models
            raise ConfigurationError(f'onnxruntime failed to load {self.config.model_path}: {error}; '
                                     'check that the file is an ONNX model') from error

    def _check_model(self) -> Tuple[str, str]:
        inputs = {node.name: node.shape for node in self._session.get_inputs()}
        outputs = [node.name for node in self._session.get_outputs()]
        input_name = self.config.input_name or next(iter(inputs))
        output_name = self.config.output_name or outputs[0]
        if input_name not in inputs or output_name not in outputs:
            raise ConfigurationError(
                f'{self.config.source}: input {input_name!r} / output {output_name!r} not in '
                f'{self.config.model_path} (inputs {list(inputs)}, outputs {outputs})')
        shape = inputs[input_name]
        if not (self.config.height and self.config.width):
            if not (len(shape) == 4 and all(isinstance(v, int) for v in shape[2:])):
                raise ConfigurationError(f'{self.config.source}: set input.height and input.width; '
                                         f'the model input {input_name!r} has no fixed size ({shape})')
            self.config = dataclasses.replace(self.config, height=shape[2], width=shape[3])
        return input_name, output_name

    def _check_rows(self) -> None:
        rows = len(self._cells)
        shape = [node.shape for node in self._session.get_outputs() if node.name == self._output_name][0]
        expected = 5 + len(self.config.class_names)
        if len(shape) == 3 and isinstance(shape[1], int) and shape[1] != rows:
            raise ConfigurationError(
                f'{self.config.source}: strides {list(self.config.strides)} at '
                f'{self.config.width}x{self.config.height} give {rows} cells but the output has {shape[1]}')
        if len(shape) == 3 and isinstance(shape[2], int) and shape[2] != expected:
            raise ConfigurationError(
                f'{self.config.source}: {len(self.config.class_names)} classes need {expected} output '
                f'columns but the output has {shape[2]}; fix "classes"')

    @property
    def model_class_names(self) -> Sequence[str]:
        return self.config.class_names

    def describe(self) -> str:
        return (f'onnx grid detector {self.config.model_path.name} {self.config.width}x{self.config.height} '
                f'on {self._session.get_providers()[0]}')

    def close(self) -> None:
        self._session = None

    def predict(self, rgb: np.ndarray) -> RawDetections:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise FrameError(f'the detector needs uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}')
        # 1. Letterbox in the model's colour order, NCHW.
        image = rgb[:, :, ::-1] if self.config.color_order == 'BGR' else rgb
        canvas, ratio = letterbox(np.ascontiguousarray(image), self.config.height, self.config.width,
                                  self.config.pad_value)
        tensor = (canvas * self.config.scale).transpose(2, 0, 1)[None]
        # 2. Run and decode.
        output = self._session.run([self._output_name], {self._input_name: np.ascontiguousarray(tensor)})[0]
        boxes, class_scores = decode_grid(output[0], self._cells, self._strides)
        # 3. Candidates above the threshold, per-class NMS, back to input pixels.
        cell_index, class_index = np.nonzero(class_scores >= self.settings.score_threshold)
        scores = class_scores[cell_index, class_index]
        candidates = boxes[cell_index]
        keep = batched_nms(candidates, scores, class_index, self.settings.nms_iou)
        names = self.config.class_names
        return RawDetections(candidates[keep] / ratio, scores[keep], [names[i] for i in class_index[keep]])
