"""Transformers segmenter: semantic segmentation with a Hugging Face transformers model.

`segmenter.model` is a hub id or a local folder written by `save_pretrained`. The
Auto class follows `config.model_type`: mask classification models (mask2former,
maskformer, oneformer) load with `AutoModelForUniversalSegmentation`, every other
type (segformer, upernet, dpt, beit, mobilevit, ...) with
`AutoModelForSemanticSegmentation`. Weights load from safetensors only and no code
from the model repository runs (`trust_remote_code=False`).

Per-pixel probabilities:
- per-pixel classifiers (Segformer and the like): the logits (C, h, w), often at 1/4
  of the processed size, are resized bilinearly to the input size, then a softmax
  runs over the classes;
- mask classifiers (Mask2Former, MaskFormer, OneFormer): each query's class softmax,
  without the last (no-object) column, is weighted by the query's mask sigmoid and
  summed over queries. The sum is resized bilinearly to the input size and divided by
  its sum over classes.
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.segmenters.base import Segmenter, SegmenterSettings
from ttm_ros.core.torch_device import resolve_torch_device

LOGGER = logging.getLogger(__name__)

UNIVERSAL_MODEL_TYPES = ('mask2former', 'maskformer', 'oneformer')

# Normalisation used when the model folder has no image processor (ImageNet statistics,
# the common choice of transformers' segmentation backbones). Override with
# settings.extra: {'mean': [...], 'std': [...], 'scale': 1/255, 'size': [height, width]}.
DEFAULT_MEAN = (0.485, 0.456, 0.406)
DEFAULT_STD = (0.229, 0.224, 0.225)
DEFAULT_SCALE = 1.0 / 255.0


class TransformersSegmenter(Segmenter):
    """Semantic segmentation with a transformers model (see the module docstring).

    Settings used: `model` (hub id or local folder), `device` ('auto' picks CUDA when
    torch reports a GPU, else the CPU; 'cpu'; 'cuda' or 'cuda:N'), `num_threads` (> 0
    calls `torch.set_num_threads`, which applies to the whole process) and `extra`
    (normalisation when there is no image processor: `mean`, `std`, `scale`, `size`).
    """

    name = 'transformers'

    def __init__(self, settings: Optional[SegmenterSettings] = None):
        super().__init__(settings)
        import torch  # optional dependency, imported when this backend is chosen
        import transformers

        self._torch = torch
        self._transformers = transformers
        if not self.settings.model:
            raise ConfigurationError(
                'segmenter.model is empty; give a transformers model folder or hub id '
                '(e.g. nvidia/segformer-b0-finetuned-cityscapes-1024-1024)')
        if self.settings.num_threads > 0:
            torch.set_num_threads(self.settings.num_threads)

        # 1. Device, config and the Auto class that matches the model type.
        self.device = resolve_torch_device(self.settings.device, 'segmenter.device')
        config = self._load_config()
        self.model_type = config.model_type
        self.is_universal = self.model_type in UNIVERSAL_MODEL_TYPES

        # 2. Weights, image processor and class names.
        self.model = self._load_model()
        self.processor = self._load_processor()
        self._class_names = self._read_class_names(config)
        self._normalisation = self._read_normalisation(self.settings.extra)
        LOGGER.info('loaded %s', self.describe())

    # -- set-up ----------------------------------------------------------------------

    def _load_config(self):
        model = self.settings.model
        try:
            return self._transformers.AutoConfig.from_pretrained(model, trust_remote_code=False)
        except (OSError, ValueError) as error:
            raise ConfigurationError(
                f'cannot load the transformers config of segmenter.model={model!r}: {error}; '
                'give a folder written by save_pretrained or a reachable hub id') from error

    def _load_model(self):
        transformers = self._transformers
        auto_class = (transformers.AutoModelForUniversalSegmentation if self.is_universal
                      else transformers.AutoModelForSemanticSegmentation)
        try:
            model = auto_class.from_pretrained(self.settings.model, use_safetensors=True, trust_remote_code=False)
        except (OSError, ValueError) as error:
            raise ConfigurationError(
                f'cannot load segmenter.model={self.settings.model!r} (model_type {self.model_type!r}) with '
                f'{auto_class.__name__}: {error}; it needs safetensors weights of a semantic or universal '
                'segmentation model') from error
        return model.to(self.device).eval()

    def _load_processor(self):
        """Return the model's image processor, or None when it ships without one."""
        local = pathlib.Path(self.settings.model)
        if local.is_dir() and not (local / 'preprocessor_config.json').is_file():
            processor = None
        else:
            try:
                processor = self._transformers.AutoImageProcessor.from_pretrained(self.settings.model)
            except (OSError, ValueError):
                processor = None
        if processor is None and self.model_type == 'oneformer':
            raise ConfigurationError(
                f'segmenter.model={self.settings.model!r} is a OneFormer model without an image processor; '
                'OneFormer needs its processor (save it next to the weights)')
        return processor

    @staticmethod
    def _read_class_names(config) -> Tuple[str, ...]:
        id2label = {int(key): str(value) for key, value in (config.id2label or {}).items()}
        if sorted(id2label) != list(range(len(id2label))) or not id2label:
            raise ConfigurationError(
                f'the model config id2label {config.id2label!r} must map 0..C-1 to class names; fix config.json')
        return tuple(id2label[index] for index in range(len(id2label)))

    @staticmethod
    def _read_normalisation(extra: Dict[str, Any]) -> Dict[str, Any]:
        size = extra.get('size')
        if size is not None and (len(size) != 2 or min(int(v) for v in size) < 1):
            raise ConfigurationError(f'segmenter extra size={size!r} is invalid; use [height, width] in pixels')
        return {
            'mean': np.asarray(extra.get('mean', DEFAULT_MEAN), dtype=np.float32),
            'std': np.asarray(extra.get('std', DEFAULT_STD), dtype=np.float32),
            'scale': float(extra.get('scale', DEFAULT_SCALE)),
            'size': tuple(int(v) for v in size) if size is not None else None,
        }

    # -- interface ---------------------------------------------------------------------

    @property
    def class_names(self) -> Sequence[str]:
        return self._class_names

    def describe(self) -> str:
        processor = type(self.processor).__name__ if self.processor is not None else 'settings normalisation'
        return (f'transformers segmenter {self.settings.model} ({type(self.model).__name__}, '
                f'{len(self.class_names)} classes, {processor}) on {self.device}, float32')

    def close(self) -> None:
        self.model = None
        if self.device.startswith('cuda'):
            self._torch.cuda.empty_cache()

    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (C, H, W) for an RGB uint8 (H, W, 3) frame."""
        # 1. Validate the frame.
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
            raise FrameError(f'the transformers segmenter needs an RGB uint8 (H, W, 3) frame, '
                             f'got {rgb.dtype} {rgb.shape}')
        if self.model is None:
            raise FrameError('the transformers segmenter was closed; build a new one')
        height, width = rgb.shape[:2]

        # 2. Model inputs and forward pass.
        torch = self._torch
        inputs = self._encode(rgb)
        with torch.inference_mode():
            outputs = self.model(**inputs)

            # 3. Class scores at the model's resolution, cropped to the unpadded image.
            if self.is_universal:
                scores = self._mask_classification_scores(outputs)
            else:
                scores = outputs.logits.float()
            scores = self._crop_padding(scores, inputs.get('pixel_mask'))

            # 4. Resize to the input size, then probabilities.
            scores = torch.nn.functional.interpolate(scores, size=(height, width), mode='bilinear',
                                                     align_corners=False)
            if self.is_universal:
                probabilities = scores / scores.sum(dim=1, keepdim=True).clamp_min(torch.finfo(scores.dtype).tiny)
            else:
                probabilities = scores.softmax(dim=1)
            result = probabilities[0].to('cpu', torch.float32).numpy()

        if not np.isfinite(result).all():
            raise FrameError(f'{self.model_type} model {self.settings.model!r} returned NaN or infinite scores '
                             'for this frame; the frame is skipped')
        return np.ascontiguousarray(result)

    # -- steps ---------------------------------------------------------------------------

    def _encode(self, rgb: np.ndarray) -> Dict[str, Any]:
        """Return the model inputs (tensors on the model's device) for one RGB frame."""
        torch = self._torch
        if self.processor is not None:
            # NOTE: the OneFormer task input is untested here; the tests cover Segformer and
            # Mask2Former only.
            kwargs = {'task_inputs': ['semantic']} if self.model_type == 'oneformer' else {}
            encoded = self.processor(images=rgb, return_tensors='pt', input_data_format='channels_last', **kwargs)
            return {key: value.to(self.device) for key, value in encoded.items() if torch.is_tensor(value)}

        settings = self._normalisation
        image = rgb
        if settings['size'] is not None:
            from PIL import Image  # Pillow is a core dependency

            size_height, size_width = settings['size']
            image = np.asarray(Image.fromarray(rgb).resize((size_width, size_height), Image.Resampling.BILINEAR))
        pixels = (image.astype(np.float32) * settings['scale'] - settings['mean']) / settings['std']
        tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
        return {'pixel_values': tensor.to(self.device)}

    def _mask_classification_scores(self, outputs):
        """Return (1, C, h, w) class scores from per-query class logits and mask logits."""
        class_probabilities = outputs.class_queries_logits.float().softmax(dim=-1)[..., :-1]
        mask_probabilities = outputs.masks_queries_logits.float().sigmoid()
        return self._torch.einsum('bqc,bqhw->bchw', class_probabilities, mask_probabilities)

    @staticmethod
    def _crop_padding(scores, pixel_mask):
        """Drop the score rows/columns that lie on padding added by the image processor."""
        if pixel_mask is None:
            return scores
        padded_height, padded_width = pixel_mask.shape[-2:]
        valid_height = int(pixel_mask[0].any(dim=1).sum())
        valid_width = int(pixel_mask[0].any(dim=0).sum())
        if (valid_height, valid_width) == (padded_height, padded_width):
            return scores
        rows = max(1, round(scores.shape[-2] * valid_height / padded_height))
        columns = max(1, round(scores.shape[-1] * valid_width / padded_width))
        return scores[..., :rows, :columns]


__all__ = ['TransformersSegmenter', 'UNIVERSAL_MODEL_TYPES']
