"""ONNX segmenter: any semantic-segmentation model in ONNX, described by a YAML file.

The YAML file (`segmenter.config`) describes how to feed the model and read its scores;
docs/onnx-segmenter.md lists every field. One frame goes through these steps:
1. geometry: resize the frame to the model size (`resize`), or resize it to the tile
   height keeping the aspect ratio and cut it into tiles along the width (`tile`);
2. per tile: colour order, dtype, normalisation and layout as set in the YAML, then one
   onnxruntime run;
3. the tiles' class scores are stitched (where two tiles overlap, each keeps the half
   of the overlap nearer its own centre) into scores of the resized frame;
4. the scores are resized to the input resolution (bilinear when enlarging, area
   averaging when shrinking both axes), then softmax over classes turns logits into
   probabilities. Probability outputs are clipped at 0 and renormalised instead.
Resizing logits before the softmax follows the usual Segformer practice. When no
resize is needed, the argmax of the result equals a model's own ArgMax output.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import yaml
from PIL import Image

from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.labels import resolve_class_names
from ttm_ros.core.segmenters.base import Segmenter, SegmenterSettings

LOGGER = logging.getLogger(__name__)

_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[3]
_ENV_VARIABLE = re.compile(r'\$(?:\{(\w+)\}|(\w+))')
# YAML spellings of onnxruntime's graph optimisation levels.
_OPTIMIZATION_LEVELS = {
    'all': 'all', 'ort_enable_all': 'all',
    'extended': 'extended', 'ort_enable_extended': 'extended',
    'basic': 'basic', 'ort_enable_basic': 'basic',
    'disable': 'disable', 'ort_disable_all': 'disable',
}


#: The maximum number of tiles one frame may need in tile mode (a 2:1 street frame
#: needs 2; 16 allows a 16:1 panorama).
MAX_TILES = 16


@dataclasses.dataclass(frozen=True)
class OnnxSegmenterConfig:
    """The parsed YAML file of an ONNX segmenter (fields as in docs/onnx-segmenter.md).

    `model_path` is resolved and checked to exist. `height`/`width` are the model's
    input size in pixels (a tile's size in `tile` mode); 0 means "read it from the
    model's static input shape".
    """

    model_path: pathlib.Path
    input_name: str = ''
    input_layout: str = 'NHWC'
    input_dtype: str = 'float32'
    color_order: str = 'RGB'
    scale: float = 1.0
    mean: Tuple[float, ...] = (0.0, 0.0, 0.0)
    std: Tuple[float, ...] = (1.0, 1.0, 1.0)
    mode: str = 'resize'
    height: int = 0
    width: int = 0
    output_name: str = ''
    output_kind: str = 'logits'
    output_layout: str = 'NCHW'
    class_names: Tuple[str, ...] = ()
    graph_optimization: str = 'all'
    threads: int = 0
    source: str = ''


# ---------------------------------------------------------------------------------
# YAML parsing


def resolve_config_path(value: str) -> pathlib.Path:
    """Return the YAML file for `segmenter.config`.

    A path that exists is used as given (after expanding `~` and environment
    variables). A bare name such as `deeplab_edgetpu_cityscapes` is also looked up in
    the package's `config/models/` folder (source checkout, then the installed
    `share/ttm_ros/config/models/`), with or without `.yaml`.
    """
    if not value:
        raise ConfigurationError(
            'segmenter.config is empty; the ONNX segmenter needs a YAML file, '
            'e.g. config/models/deeplab_edgetpu_cityscapes.yaml')
    path = pathlib.Path(os.path.expandvars(os.path.expanduser(value)))
    candidates = [path]
    if len(path.parts) == 1:
        for folder in (_PACKAGE_ROOT / 'config' / 'models',
                       pathlib.Path(sys.prefix) / 'share' / 'ttm_ros' / 'config' / 'models'):
            candidates += [folder / value, folder / (value + '.yaml')]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        f'ONNX segmenter config {value!r} not found (looked at {", ".join(map(str, candidates))}); '
        'pass the path of a YAML file such as config/models/deeplab_edgetpu_cityscapes.yaml')


def resolve_model_path(value: str, base_dir: pathlib.Path, origin: str) -> pathlib.Path:
    """Expand `~` and `${VARIABLE}` in a model path; a relative path starts at `base_dir`.

    `origin` names where the value came from, for the error message.
    """
    missing = [a or b for a, b in _ENV_VARIABLE.findall(value) if (a or b) not in os.environ]
    if missing:
        raise ConfigurationError(
            f'model path {value!r} ({origin}) uses the environment variable {", ".join(missing)}, '
            f'which is not set; set it (e.g. export {missing[0]}=/path/to/data) '
            'or pass the model file as segmenter.model')
    path = pathlib.Path(os.path.expandvars(os.path.expanduser(value)))
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise ConfigurationError(
            f'ONNX model file {path} not found ({origin}: {value!r}); fix the path, '
            'set the environment variable it uses, or pass the file as segmenter.model')
    return path


def _section(document: Dict[str, Any], name: str, allowed: Sequence[str], source: str) -> Dict[str, Any]:
    section = document.get(name) or {}
    if not isinstance(section, dict):
        raise ConfigurationError(f'{source}: "{name}" must be a mapping, got {section!r}')
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ConfigurationError(
            f'{source}: unknown field(s) {name}.{", ".join(unknown)}; allowed: {", ".join(allowed)}')
    return section


def _choice(section: Dict[str, Any], key: str, default: str, choices: Sequence[str], where: str) -> str:
    value = str(section.get(key, default))
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ConfigurationError(f'{where}.{key}={value!r} is invalid; use one of {", ".join(choices)}')


def _triple(section: Dict[str, Any], key: str, default: float, where: str) -> Tuple[float, ...]:
    value = section.get(key, default)
    values = [value] * 3 if isinstance(value, (int, float)) else value
    try:
        result = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        result = ()
    if len(result) != 3:
        raise ConfigurationError(f'{where}.{key}={value!r} is invalid; give one number or a list of three')
    return result


def _integer(section: Dict[str, Any], key: str, where: str, minimum: int = 0) -> int:
    value = section.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f'{where}.{key}={value!r} is invalid; use an integer >= {minimum}')
    return value


def _optimization_level(runtime: Dict[str, Any], source: str) -> str:
    value = str(runtime.get('graph_optimization', 'all'))
    level = _OPTIMIZATION_LEVELS.get(value.lower())
    if level is None:
        raise ConfigurationError(
            f'{source}: runtime.graph_optimization={value!r} is invalid; use all (the default), '
            'extended, basic or disable (or ORT_ENABLE_ALL, ORT_ENABLE_EXTENDED, ORT_ENABLE_BASIC, '
            'ORT_DISABLE_ALL)')
    return level


def load_config(config_path: pathlib.Path, model_override: str = '') -> OnnxSegmenterConfig:
    """Read and validate the YAML file; `model_override` (segmenter.model) replaces `model`."""
    source = str(config_path)
    try:
        document = yaml.safe_load(config_path.read_text(encoding='utf-8')) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f'cannot read ONNX segmenter config {source}: {error}; fix the YAML') from error
    if not isinstance(document, dict):
        raise ConfigurationError(f'{source} must hold a mapping with model, input, geometry, output, classes')
    unknown = sorted(set(document) - {'model', 'input', 'geometry', 'output', 'classes', 'runtime'})
    if unknown:
        raise ConfigurationError(
            f'{source}: unknown field(s) {", ".join(unknown)}; allowed: model, input, geometry, '
            'output, classes, runtime')

    inputs = _section(document, 'input', ('name', 'layout', 'dtype', 'color_order', 'scale', 'mean', 'std'), source)
    geometry = _section(document, 'geometry', ('mode', 'height', 'width'), source)
    output = _section(document, 'output', ('name', 'kind', 'layout'), source)
    runtime = _section(document, 'runtime', ('graph_optimization', 'threads'), source)

    # 1. Model file: segmenter.model wins over the YAML's `model`.
    if model_override:
        model_path = resolve_model_path(model_override, pathlib.Path.cwd(), 'segmenter.model')
    elif document.get('model'):
        model_path = resolve_model_path(str(document['model']), config_path.parent, f'"model" in {source}')
    else:
        raise ConfigurationError(f'{source} has no "model" field and segmenter.model is empty; set one of them')

    # 2. Input encoding.
    config = OnnxSegmenterConfig(
        model_path=model_path,
        **input_encoding(inputs, 'NHWC', source),
        mode=_choice(geometry, 'mode', 'resize', ('resize', 'tile'), 'geometry'),
        height=_integer(geometry, 'height', 'geometry'),
        width=_integer(geometry, 'width', 'geometry'),
        output_name=str(output.get('name', '')),
        output_kind=_choice(output, 'kind', 'logits', ('logits', 'probabilities'), 'output'),
        output_layout=_choice(output, 'layout', 'NCHW', ('NCHW', 'NHWC'), 'output'),
        class_names=resolve_class_names(document.get('classes', 'cityscapes')),
        graph_optimization=_optimization_level(runtime, source),
        threads=_integer(runtime, 'threads', 'runtime'),
        source=source,
    )

    # 3. Cross-field checks.
    normalises = config.scale != 1.0 or config.mean != (0.0, 0.0, 0.0) or config.std != (1.0, 1.0, 1.0)
    if config.input_dtype == 'uint8' and normalises:
        raise ConfigurationError(
            f'{source}: input.dtype=uint8 feeds raw 0..255 pixels, so scale/mean/std cannot apply; '
            'remove them or use dtype float32')
    if not config.class_names:
        raise ConfigurationError(f'{source}: classes is empty; give "cityscapes" or a list of names')
    return config


def input_encoding(inputs: Dict[str, Any], default_layout: str, source: str) -> Dict[str, Any]:
    """Return the input fields of an ONNX config from its `input` section.

    The keys are input_name, input_layout, input_dtype, color_order, scale, mean and std,
    as in OnnxSegmenterConfig and OnnxClassifierConfig. Raises ConfigurationError for an
    invalid value or a std of 0.
    """
    encoding = {
        'input_name': str(inputs.get('name', '')),
        'input_layout': _choice(inputs, 'layout', default_layout, ('NHWC', 'NCHW'), 'input'),
        'input_dtype': _choice(inputs, 'dtype', 'float32', ('uint8', 'float32'), 'input'),
        'color_order': _choice(inputs, 'color_order', 'RGB', ('RGB', 'BGR'), 'input'),
        'scale': float(inputs.get('scale', 1.0)),
        'mean': _triple(inputs, 'mean', 0.0, 'input'),
        'std': _triple(inputs, 'std', 1.0, 'input'),
    }
    if any(value == 0 for value in encoding['std']):
        raise ConfigurationError(f'{source}: input.std={list(encoding["std"])} contains 0; use positive values')
    return encoding


# ---------------------------------------------------------------------------------
# Geometry


def tile_offsets(width: int, tile_width: int) -> List[int]:
    """Return the left edges of tiles that cover `width` columns.

    Tiles are laid edge to edge from x = 0; when the last one would stick out, it is
    moved left to end at `width` and overlaps its neighbour. A width below one tile
    gives a single tile at 0 (the caller pads the frame).
    """
    if width <= tile_width:
        return [0]
    offsets = list(range(0, width - tile_width + 1, tile_width))
    if offsets[-1] + tile_width < width:
        offsets.append(width - tile_width)
    return offsets


def tile_keep_ranges(offsets: Sequence[int], tile_width: int, width: int) -> List[Tuple[int, int]]:
    """Return, per tile, the columns [start, end) of the stitched frame it provides.

    Where two tiles overlap, the boundary lies in the middle of the overlap, so each
    pixel takes the scores of the tile whose edge is farther away.
    """
    ranges = []
    for index, offset in enumerate(offsets):
        start = 0 if index == 0 else (offset + offsets[index - 1] + tile_width + 1) // 2
        end = width if index == len(offsets) - 1 else (offsets[index + 1] + offset + tile_width + 1) // 2
        ranges.append((start, min(end, width)))
    return ranges


def resize_image(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an RGB uint8 image with Pillow's bilinear filter.

    Pillow widens the filter when shrinking, so downscaled frames are antialiased.
    Int8 models react to small input changes on dark frames: on the ACDC night test
    frame, the Cityscapes model's mIoU was 0.136 with this resize and 0.123 with
    OpenCV's fixed-point bilinear resize.
    """
    if rgb.shape[:2] == (height, width):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))


def resize_scores(scores: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize float32 scores (C, h, w) to (C, height, width), channel by channel."""
    if scores.shape[1:] == (height, width):
        return scores
    interpolation = _interpolation(scores.shape[1:], (height, width))
    resized = np.empty((scores.shape[0], height, width), dtype=np.float32)
    for channel in range(scores.shape[0]):
        resized[channel] = cv2.resize(scores[channel], (width, height), interpolation=interpolation)
    return resized


def _interpolation(source: Tuple[int, int], target: Tuple[int, int]) -> int:
    shrinks = target[0] <= source[0] and target[1] <= source[1]
    return cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR


def softmax_inplace(scores: np.ndarray) -> np.ndarray:
    """Apply softmax over axis 0 of float32 scores (C, H, W), in place; return them."""
    scores -= scores.max(axis=0, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=0, keepdims=True)
    return scores


def normalize_inplace(scores: np.ndarray) -> np.ndarray:
    """Clip float32 scores (C, H, W) at 0 and divide by their sum over axis 0, in place.

    A pixel whose scores sum to 0 gets the uniform distribution 1/C.
    """
    np.maximum(scores, 0.0, out=scores)
    totals = scores.sum(axis=0, keepdims=True)
    empty = totals <= 0.0
    if empty.any():
        scores[:, empty[0]] = 1.0
        totals[empty] = scores.shape[0]
    scores /= totals
    return scores


# ---------------------------------------------------------------------------------
# onnxruntime session and input encoding (shared with the ONNX classifier)


def create_session(ort, model_path: pathlib.Path, graph_optimization: str, threads: int,
                   device: str, device_parameter: str):
    """Return an onnxruntime InferenceSession for `model_path`.

    `graph_optimization` is all, extended, basic or disable; `threads` > 0 sets the
    intra-op threads; `device` is auto or cpu (the CPU) or cuda / cuda:N (onnxruntime's
    CUDA provider when installed, otherwise the CPU with a warning).
    `device_parameter` names the parameter in error messages.
    """
    options = ort.SessionOptions()
    levels = {
        'disable': ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        'basic': ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        'extended': ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        'all': ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options.graph_optimization_level = levels[graph_optimization]
    if threads > 0:
        options.intra_op_num_threads = threads
    providers = _providers(ort, device, device_parameter)
    try:
        return ort.InferenceSession(str(model_path), options, providers=providers)
    except Exception as error:  # onnxruntime raises its own exception types for bad models
        raise ConfigurationError(
            f'onnxruntime failed to load {model_path}: {error}; check that the file is '
            'an ONNX model and that onnxruntime supports its opset') from error


def _providers(ort, device: str, device_parameter: str) -> List[str]:
    if device not in ('auto', 'cpu', 'cuda') and not device.startswith('cuda:'):
        raise ConfigurationError(f'{device_parameter}={device!r} is invalid; use auto, cpu or cuda')
    if not device.startswith('cuda'):
        return ['CPUExecutionProvider']
    if 'CUDAExecutionProvider' in ort.get_available_providers():
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    LOGGER.warning('%s=%s but onnxruntime has no CUDA provider (install onnxruntime-gpu); '
                   'running on the CPU', device_parameter, device)
    return ['CPUExecutionProvider']


def encode_image(image: np.ndarray, config) -> np.ndarray:
    """Return the input tensor (batch of one) for an RGB uint8 image.

    `config` provides color_order, input_dtype, scale, mean, std and input_layout
    (an `OnnxSegmenterConfig` or a classifier config with the same fields).
    """
    if config.color_order == 'BGR':
        image = image[:, :, ::-1]
    if config.input_dtype == 'uint8':
        tensor = np.ascontiguousarray(image)
    else:
        tensor = image.astype(np.float32) * np.float32(config.scale)
        tensor -= np.asarray(config.mean, dtype=np.float32)
        tensor /= np.asarray(config.std, dtype=np.float32)
    if config.input_layout == 'NCHW':
        tensor = tensor.transpose(2, 0, 1)
    return np.ascontiguousarray(tensor[None])


# ---------------------------------------------------------------------------------
# Segmenter


class OnnxSegmenter(Segmenter):
    """Semantic segmentation with onnxruntime, configured by a YAML file.

    Settings used: `config` (YAML path or bare name in config/models), `model`
    (overrides the YAML's model path), `device` ('auto' and 'cpu' run on the CPU;
    'cuda' uses onnxruntime's CUDA provider when installed, otherwise the CPU with a
    warning), `num_threads` (onnxruntime intra-op threads; > 0 overrides the YAML).
    """

    name = 'onnx'

    def __init__(self, settings: Optional[SegmenterSettings] = None):
        super().__init__(settings)
        import onnxruntime  # optional dependency, imported when this backend is chosen

        self._ort = onnxruntime
        config_path = resolve_config_path(self.settings.config)
        self.config = load_config(config_path, self.settings.model)
        self._session = self._create_session()
        self._input_name, self._input_size = self._check_input()
        self._output_name = self._check_output()
        LOGGER.info('loaded %s', self.describe())

    # -- set-up ----------------------------------------------------------------------

    def _create_session(self):
        threads = self.settings.num_threads if self.settings.num_threads > 0 else self.config.threads
        return create_session(self._ort, self.config.model_path, self.config.graph_optimization,
                              threads, self.settings.device, 'segmenter.device')

    def _find_node(self, nodes, name: str, kind: str) -> Tuple[str, List[Any]]:
        """Return the name and shape of the model input or output `name`."""
        shapes = {node.name: list(node.shape) for node in nodes}
        if name not in shapes:
            raise ConfigurationError(
                f'{self.config.source}: {kind}.name={name!r} is not an {kind} of {self.config.model_path}; '
                f'its {kind}s are {", ".join(shapes)}')
        return name, shapes[name]

    def _check_input(self) -> Tuple[str, Tuple[int, int]]:
        """Return the input name and the model input size (height, width) in pixels."""
        inputs = self._session.get_inputs()
        default = inputs[0].name if len(inputs) == 1 else ''
        name, shape = self._find_node(inputs, self.config.input_name or default, 'input')
        if len(shape) != 4:
            raise ConfigurationError(f'model input {name!r} has shape {shape}; a 4-D image input is needed')
        static = shape[1:3] if self.config.input_layout == 'NHWC' else shape[2:4]
        size = []
        for configured, model_value, field in zip((self.config.height, self.config.width), static,
                                                 ('height', 'width')):
            model_value = model_value if isinstance(model_value, int) and model_value > 0 else 0
            if configured and model_value and configured != model_value:
                raise ConfigurationError(
                    f'{self.config.source}: geometry.{field}={configured} but the model input {name!r} '
                    f'is {shape} ({self.config.input_layout}); set geometry.{field}={model_value}')
            if not (configured or model_value):
                raise ConfigurationError(
                    f'{self.config.source}: geometry.{field} is missing and the model input {name!r} '
                    f'has no fixed {field} ({shape}); set geometry.{field}')
            size.append(configured or model_value)
        return name, (size[0], size[1])

    def _check_output(self) -> str:
        outputs = self._session.get_outputs()
        name, shape = self._find_node(outputs, self.config.output_name or outputs[0].name, 'output')
        if len(shape) != 4:
            raise ConfigurationError(f'model output {name!r} has shape {shape}; a 4-D score output is needed')
        channels = shape[1] if self.config.output_layout == 'NCHW' else shape[-1]
        if isinstance(channels, int) and channels != len(self.config.class_names):
            raise ConfigurationError(
                f'{self.config.source}: output {name!r} has {channels} classes ({shape}, '
                f'{self.config.output_layout}) but classes lists {len(self.config.class_names)}; '
                'fix classes or output.layout')
        return name

    # -- interface ---------------------------------------------------------------------

    @property
    def class_names(self) -> Sequence[str]:
        return self.config.class_names

    def describe(self) -> str:
        height, width = self._input_size
        return (f'onnx segmenter {self.config.model_path.name} ({self.config.mode} {width}x{height}, '
                f'{len(self.class_names)} classes) on {self._session.get_providers()[0]}, '
                f'graph optimisation {self.config.graph_optimization}')

    def close(self) -> None:
        self._session = None

    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (C, H, W) for an RGB uint8 (H, W, 3) frame."""
        # 1. Validate the frame.
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
            raise FrameError(f'the ONNX segmenter needs an RGB uint8 (H, W, 3) frame, got {rgb.dtype} {rgb.shape}')
        height, width = rgb.shape[:2]

        # 2. Class scores of the resized frame, stitched from tiles in tile mode.
        if self.config.mode == 'tile':
            scores = self._tiled_scores(rgb)
        else:
            model_height, model_width = self._input_size
            scores = self.run_model(resize_image(rgb, model_height, model_width))

        # 3. Back to the input resolution, then to probabilities.
        scores = resize_scores(scores, height, width)
        if self.config.output_kind == 'logits':
            return softmax_inplace(scores)
        return normalize_inplace(scores)

    # -- steps ---------------------------------------------------------------------------

    def tile_layout(self, height: int, width: int) -> Tuple[int, int, List[int]]:
        """Return (resized height, resized width, tile left edges) for a frame size in tile mode."""
        tile_height, tile_width = self._input_size
        resized_width = max(1, int(round(width * tile_height / height)))
        return tile_height, resized_width, tile_offsets(resized_width, tile_width)

    def _tiled_scores(self, rgb: np.ndarray) -> np.ndarray:
        tile_height, tile_width = self._input_size
        resized_height, resized_width, offsets = self.tile_layout(*rgb.shape[:2])
        if len(offsets) > MAX_TILES:
            # A 1 x 1000 line would become 1000 tiles and a score array of many GiB.
            raise FrameError(
                f'frame {rgb.shape[1]}x{rgb.shape[0]} needs {len(offsets)} tiles of '
                f'{tile_width}x{tile_height} (at most {MAX_TILES}); its aspect ratio is far from a '
                'camera image, so check the camera encoding or crop the frame')
        resized = resize_image(rgb, resized_height, resized_width)
        if resized_width < tile_width:
            # NOTE: a frame narrower than one tile is padded with black on the right. The
            # padded columns are dropped from the scores, but the model receives them as context.
            resized = cv2.copyMakeBorder(resized, 0, 0, 0, tile_width - resized_width,
                                         cv2.BORDER_CONSTANT, value=(0, 0, 0))
            return np.ascontiguousarray(self.run_model(resized)[:, :, :resized_width])

        stitched = np.empty((len(self.class_names), resized_height, resized_width), dtype=np.float32)
        for offset, (start, end) in zip(offsets, tile_keep_ranges(offsets, tile_width, resized_width)):
            tile_scores = self.run_model(resized[:, offset:offset + tile_width])
            stitched[:, :, start:end] = tile_scores[:, :, start - offset:end - offset]
        return stitched

    def run_model(self, image: np.ndarray) -> np.ndarray:
        """Run the model on one RGB image of the model input size; return float32 scores (C, h, w).

        Scores at another resolution than the input (a stride-16 output, say) are
        resized to the input size, so tiles stitch in input pixels.
        """
        if self._session is None:
            raise FrameError('the ONNX segmenter was closed; build a new one')
        tensor = encode_image(image, self.config)
        output = self._session.run([self._output_name], {self._input_name: tensor})[0]
        scores = output[0] if self.config.output_layout == 'NCHW' else np.moveaxis(output[0], -1, 0)
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        if scores.shape[0] != len(self.class_names):
            raise ConfigurationError(
                f'model output {self._output_name!r} has {scores.shape[0]} classes but {self.config.source} '
                f'lists {len(self.class_names)}; fix classes or output.layout')
        if not np.isfinite(scores).all():
            raise FrameError(
                f'model output {self._output_name!r} contains NaN or infinite scores for this frame; '
                'the frame is skipped (check the model and the input normalisation)')
        return resize_scores(scores, image.shape[0], image.shape[1])


__all__ = ['OnnxSegmenter', 'OnnxSegmenterConfig', 'create_session', 'encode_image', 'load_config', 'resolve_config_path', 'resolve_model_path',
           'normalize_inplace', 'resize_scores', 'softmax_inplace', 'tile_keep_ranges', 'tile_offsets']
