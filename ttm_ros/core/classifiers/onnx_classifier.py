"""ONNX classifier: any image-classification model in ONNX, described by a YAML file.

The YAML file (`config`) has the sections of the ONNX segmenter's file (`model`,
`input`, `runtime`; see docs/onnx-segmenter.md) plus:
- `geometry`: `resize_short` (pixels; the shorter side is resized to this, aspect
  kept, Pillow bilinear) and `crop` (pixels; the centre square cut from the result,
  which is the model input). `crop: 0` feeds the resized image whole;
- `output`: `name` (default: the first output) and `kind` (`logits`, softmax
  applied here, or `probabilities`), shape (1, C);
- `classes`: a text file with one class name per line (relative to the YAML file,
  `${VARIABLE}` expanded) or a list of names.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import yaml

from ttm_ros.core.classifiers.base import Classifier, ClassifierSettings, softmax
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.segmenters.onnx_segmenter import (
    _choice, _integer, _optimization_level, _section, create_session, encode_image,
    input_encoding, resize_image, resolve_config_path, resolve_model_path)

LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class OnnxClassifierConfig:
    """The parsed YAML file of an ONNX classifier (see the module docstring)."""

    model_path: pathlib.Path
    class_names: Tuple[str, ...]
    input_name: str = ''
    input_layout: str = 'NCHW'
    input_dtype: str = 'float32'
    color_order: str = 'RGB'
    scale: float = 1.0
    mean: Tuple[float, ...] = (0.0, 0.0, 0.0)
    std: Tuple[float, ...] = (1.0, 1.0, 1.0)
    resize_short: int = 256
    crop: int = 224
    output_name: str = ''
    output_kind: str = 'logits'
    graph_optimization: str = 'all'
    threads: int = 0
    source: str = ''


def load_classifier_config(config_path: pathlib.Path, model_override: str = '') -> OnnxClassifierConfig:
    """Read and validate the YAML file; `model_override` replaces its `model`."""
    source = str(config_path)
    try:
        document = yaml.safe_load(config_path.read_text(encoding='utf-8')) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f'cannot read ONNX classifier config {source}: {error}; fix the YAML') from error
    unknown = sorted(set(document) - {'model', 'input', 'geometry', 'output', 'classes', 'runtime'})
    if unknown:
        raise ConfigurationError(f'{source}: unknown field(s) {", ".join(unknown)}; allowed: model, '
                                 'input, geometry, output, classes, runtime')
    inputs = _section(document, 'input', ('name', 'layout', 'dtype', 'color_order', 'scale', 'mean', 'std'),
                      source)
    geometry = _section(document, 'geometry', ('resize_short', 'crop'), source)
    output = _section(document, 'output', ('name', 'kind'), source)
    runtime = _section(document, 'runtime', ('graph_optimization', 'threads'), source)

    if model_override:
        model_path = resolve_model_path(model_override, pathlib.Path.cwd(), 'classifier model')
    elif document.get('model'):
        model_path = resolve_model_path(str(document['model']), config_path.parent, f'"model" in {source}')
    else:
        raise ConfigurationError(f'{source} has no "model" field and no model file was given; set one')

    config = OnnxClassifierConfig(
        model_path=model_path,
        class_names=_class_names(document.get('classes'), config_path.parent, source),
        **input_encoding(inputs, 'NCHW', source),
        resize_short=_integer({'resize_short': geometry.get('resize_short', 256)}, 'resize_short',
                              'geometry', minimum=1),
        crop=_integer({'crop': geometry.get('crop', 224)}, 'crop', 'geometry'),
        output_name=str(output.get('name', '')),
        output_kind=_choice(output, 'kind', 'logits', ('logits', 'probabilities'), 'output'),
        graph_optimization=_optimization_level(runtime, source),
        threads=_integer(runtime, 'threads', 'runtime'),
        source=source,
    )
    if config.crop > config.resize_short:
        raise ConfigurationError(f'{source}: geometry.crop={config.crop} is larger than '
                                 f'geometry.resize_short={config.resize_short}; use crop <= resize_short')
    return config


def _class_names(value: Any, base_dir: pathlib.Path, source: str) -> Tuple[str, ...]:
    if isinstance(value, list) and value:
        return tuple(str(name) for name in value)
    if isinstance(value, str) and value:
        path = pathlib.Path(os.path.expandvars(os.path.expanduser(value)))
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            raise ConfigurationError(f'{source}: class name file {path} not found ("classes": {value!r}); '
                                     'fix the path or set the environment variable it uses')
        names = tuple(line.strip() for line in path.read_text(encoding='utf-8').splitlines() if line.strip())
        if names:
            return names
    raise ConfigurationError(f'{source}: "classes" must be a class name file or a list of names')


def center_crop_input(rgb: np.ndarray, resize_short: int, crop: int) -> np.ndarray:
    """Resize the shorter side to `resize_short` (aspect kept), then cut the centre crop x crop square."""
    height, width = rgb.shape[:2]
    ratio = resize_short / min(height, width)
    resized_height = max(1, int(round(height * ratio)))
    resized_width = max(1, int(round(width * ratio)))
    resized = resize_image(rgb, resized_height, resized_width)
    if crop == 0:
        return resized
    top = (resized_height - crop) // 2
    left = (resized_width - crop) // 2
    return resized[top:top + crop, left:left + crop]


class OnnxClassifier(Classifier):
    """Image classification with onnxruntime, configured by a YAML file.

    Settings used: `config` (YAML path or bare name in config/models), `model`
    (overrides the YAML's model path), `device` and `num_threads` as for the ONNX
    segmenter.
    """

    name = 'onnx'

    def __init__(self, settings: Optional[ClassifierSettings] = None):
        super().__init__(settings)
        import onnxruntime  # optional dependency, imported when this backend is chosen

        self.config = load_classifier_config(resolve_config_path(self.settings.config), self.settings.model)
        threads = self.settings.num_threads if self.settings.num_threads > 0 else self.config.threads
        self._session = create_session(onnxruntime, self.config.model_path, self.config.graph_optimization,
                                       threads, self.settings.device, 'classifier device')
        inputs = self._session.get_inputs()
        self._input_name = self.config.input_name or inputs[0].name
        outputs = [output.name for output in self._session.get_outputs()]
        self._output_name = self.config.output_name or outputs[0]
        if self._output_name not in outputs:
            raise ConfigurationError(f'{self.config.source}: output.name={self._output_name!r} is not an output '
                                     f'of {self.config.model_path}; its outputs are {", ".join(outputs)}')
        LOGGER.info('loaded %s', self.describe())

    @property
    def class_names(self) -> Sequence[str]:
        return self.config.class_names

    def describe(self) -> str:
        return (f'onnx classifier {self.config.model_path.name} ({self.config.crop or "full"} px crop, '
                f'{len(self.class_names)} classes)')

    def close(self) -> None:
        self._session = None

    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (C,) for an RGB uint8 (H, W, 3) image."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
            raise FrameError(f'the ONNX classifier needs an RGB uint8 (H, W, 3) image, got {rgb.dtype} {rgb.shape}')
        if self._session is None:
            raise FrameError('the ONNX classifier was closed; build a new one')
        tensor = encode_image(center_crop_input(rgb, self.config.resize_short, self.config.crop), self.config)
        scores = np.asarray(self._session.run([self._output_name], {self._input_name: tensor})[0],
                            dtype=np.float32).reshape(-1)
        if scores.shape[0] != len(self.class_names):
            raise ConfigurationError(f'model output {self._output_name!r} has {scores.shape[0]} classes but '
                                     f'{self.config.source} lists {len(self.class_names)}; fix classes')
        if not np.isfinite(scores).all():
            raise FrameError(f'model output {self._output_name!r} contains NaN or infinite scores for this image')
        if self.config.output_kind == 'logits':
            return softmax(scores)
        return scores / max(float(scores.sum()), 1e-12)
