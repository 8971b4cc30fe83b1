"""Transformers detector: AutoModelForObjectDetection (DETR, RT-DETR, Deformable DETR, ...).

`detector.model` is a hub id or a local folder written by `save_pretrained`. Weights
load from safetensors only and no code from the model repository runs
(`trust_remote_code=False`). The model's image processor prepares the frame and its
`post_process_object_detection`, given the input (height, width) as target size,
returns corner boxes in input pixels. Labels come from `config.id2label`.
"""

from __future__ import annotations

import logging
import pathlib
from typing import Optional, Sequence, Tuple

import numpy as np

from ttm_ros.core.detectors.base import Detector, DetectorSettings, RawDetections
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.torch_device import resolve_torch_device

LOGGER = logging.getLogger(__name__)


class TransformersDetector(Detector):
    """Object detection with a transformers model (see the module docstring)."""

    name = 'transformers'

    def __init__(self, settings: Optional[DetectorSettings] = None):
        super().__init__(settings)
        import torch  # optional dependency, imported when this backend is chosen
        import transformers

        self._torch = torch
        if not self.settings.model:
            raise ConfigurationError('detector.model is empty; give a transformers detection model folder '
                                     'or hub id (e.g. PekingU/rtdetr_r50vd)')
        if self.settings.num_threads > 0:
            torch.set_num_threads(self.settings.num_threads)
        self.device = resolve_torch_device(self.settings.device, 'detector.device')
        self.model = self._load(transformers.AutoModelForObjectDetection, 'model',
                                use_safetensors=True).to(self.device).eval()
        self.processor = self._load(transformers.AutoImageProcessor, 'image processor')
        id2label = self.model.config.id2label
        self._class_names: Tuple[str, ...] = tuple(str(id2label[i]) for i in sorted(id2label))
        self._labels = {int(i): str(name) for i, name in id2label.items()}
        LOGGER.info('loaded %s', self.describe())

    def _load(self, auto_class, what: str, **kwargs):
        model = self.settings.model
        if what == 'image processor' and pathlib.Path(model).is_dir() \
                and not (pathlib.Path(model) / 'preprocessor_config.json').is_file():
            raise ConfigurationError(f'detector.model={model!r} has no preprocessor_config.json; save the '
                                     'image processor next to the weights (processor.save_pretrained)')
        try:
            return auto_class.from_pretrained(model, trust_remote_code=False, **kwargs)
        except (OSError, ValueError) as error:
            raise ConfigurationError(f'cannot load the {what} of detector.model={model!r} with '
                                     f'{auto_class.__name__}: {error}; give a folder written by '
                                     'save_pretrained (safetensors) or a reachable hub id') from error

    @property
    def model_class_names(self) -> Sequence[str]:
        return self._class_names

    def describe(self) -> str:
        return f'transformers {type(self.model).__name__} ({self.settings.model}) on {self.device}'

    def close(self) -> None:
        self.model = None
        if self.device.startswith('cuda'):
            self._torch.cuda.empty_cache()

    def predict(self, rgb: np.ndarray) -> RawDetections:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise FrameError(f'the detector needs uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}')
        torch = self._torch
        inputs = self.processor(images=rgb, return_tensors='pt').to(self.device)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        # The threshold here only prunes; Detector.detect applies the final one.
        result = self.processor.post_process_object_detection(
            outputs, threshold=self.settings.score_threshold, target_sizes=[rgb.shape[:2]])[0]
        labels = [self._labels[int(i)] for i in result['labels'].tolist()]
        return RawDetections(result['boxes'].float().cpu().numpy().reshape(-1, 4),
                             result['scores'].float().cpu().numpy(), labels)
