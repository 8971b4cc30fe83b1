"""Transformers classifier: `AutoModelForImageClassification` with its image processor.

`model` is a hub id or a local folder written by `save_pretrained`. Weights load from
safetensors only and no code from the model repository runs. Without an image
processor in the folder, the image is resized to `config.image_size` and normalised
with ImageNet statistics (override with settings.extra `mean`, `std`, `size`).
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import numpy as np

from ttm_ros.core.classifiers.base import Classifier, ClassifierSettings
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.torch_device import resolve_torch_device

LOGGER = logging.getLogger(__name__)
DEFAULT_MEAN = (0.485, 0.456, 0.406)
DEFAULT_STD = (0.229, 0.224, 0.225)


class TransformersClassifier(Classifier):
    """Image classification with a transformers model (see the module docstring).

    Settings used: `model`, `device` (auto picks CUDA when available, else cpu) and
    `extra` (normalisation without an image processor).
    """

    name = 'transformers'

    def __init__(self, settings: Optional[ClassifierSettings] = None):
        super().__init__(settings)
        import torch  # optional dependency, imported when this backend is chosen
        import transformers

        self._torch = torch
        if not self.settings.model:
            raise ConfigurationError('the transformers classifier needs a model: a hub id or a folder '
                                     'written by save_pretrained')
        self._device = torch.device(resolve_torch_device(self.settings.device, 'classifier.device'))
        try:
            self._model = transformers.AutoModelForImageClassification.from_pretrained(
                self.settings.model, use_safetensors=True, trust_remote_code=False).to(self._device).eval()
        except (OSError, ValueError) as error:
            raise ConfigurationError(f'cannot load classifier {self.settings.model!r}: {error}; give a hub id '
                                     'or a folder with config.json and model.safetensors') from error
        try:
            self._processor = transformers.AutoImageProcessor.from_pretrained(self.settings.model)
        except (OSError, ValueError):
            self._processor = None
        labels = self._model.config.id2label
        self._class_names = tuple(labels[index] for index in range(len(labels)))
        LOGGER.info('loaded %s', self.describe())

    @property
    def class_names(self) -> Sequence[str]:
        return self._class_names

    def describe(self) -> str:
        return f'transformers classifier {self.settings.model} on {self._device}'

    def close(self) -> None:
        self._model = None

    def _encode(self, rgb: np.ndarray):
        torch = self._torch
        if self._processor is not None:
            return self._processor(images=rgb, return_tensors='pt')['pixel_values']
        extra = self.settings.extra
        size = extra.get('size', self._model.config.image_size)
        height, width = (size, size) if isinstance(size, int) else size
        from PIL import Image
        resized = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))
        tensor = resized.astype(np.float32) / 255.0
        tensor = (tensor - np.asarray(extra.get('mean', DEFAULT_MEAN), np.float32)) / \
            np.asarray(extra.get('std', DEFAULT_STD), np.float32)
        return torch.from_numpy(np.ascontiguousarray(tensor.transpose(2, 0, 1)[None]))

    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (C,) for an RGB uint8 (H, W, 3) image."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise FrameError(f'the transformers classifier needs an RGB uint8 (H, W, 3) image, '
                             f'got {rgb.dtype} {rgb.shape}')
        if self._model is None:
            raise FrameError('the transformers classifier was closed; build a new one')
        with self._torch.inference_mode():
            logits = self._model(pixel_values=self._encode(rgb).to(self._device)).logits[0]
        return self._torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float32)
