"""torchvision detectors: Faster R-CNN, Mask R-CNN, RetinaNet, FCOS and kin (optional extra).

`detector.model` is a torchvision builder name (`fasterrcnn_resnet50_fpn`,
`maskrcnn_resnet50_fpn_v2`, ...). `detector.config` is an optional local state-dict
file; without one, torchvision loads the builder's DEFAULT weights (a download on the
first start). Labels are the weights' category names (COCO with `__background__` and
`N/A` placeholders). Mask R-CNN's masks are not used: only its boxes.
"""

from __future__ import annotations

import logging
import os
from typing import Optional, Sequence, Tuple

import numpy as np

from ttm_ros.core.detectors.base import Detector, DetectorSettings, RawDetections
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.torch_device import resolve_torch_device

LOGGER = logging.getLogger(__name__)


class TorchvisionDetector(Detector):
    """A torchvision detection model (see the module docstring).

    NOTE: torchvision is not installed in the pip environment (its PyPI build needs a
    newer torch), so this backend is exercised only where torchvision is installed.
    """

    name = 'torchvision'

    def __init__(self, settings: Optional[DetectorSettings] = None):
        super().__init__(settings)
        try:
            import torch
            import torchvision
        except (ImportError, RuntimeError) as error:
            raise ConfigurationError(
                f'detector.name=torchvision needs torchvision, which failed to import ({error}); install '
                'the torchvision build that matches your torch (pip install torchvision, or the distro '
                'package), or choose the onnx or transformers detector') from error
        self._torch = torch
        name = self.settings.model or 'fasterrcnn_resnet50_fpn'
        try:
            weights_enum = torchvision.models.get_model_weights(name)
        except ValueError as error:
            raise ConfigurationError(f'detector.model={name!r} is not a torchvision detection model: {error}') from error
        self.device = resolve_torch_device(self.settings.device, 'detector.device')
        self.model = self._build(torchvision, name, weights_enum).to(self.device).eval()
        self._class_names: Tuple[str, ...] = tuple(weights_enum.DEFAULT.meta['categories'])
        self.model_name = name
        LOGGER.info('loaded %s', self.describe())

    def _build(self, torchvision, name, weights_enum):
        checkpoint = self.settings.config
        if not checkpoint:
            return torchvision.models.get_model(name, weights=weights_enum.DEFAULT)
        path = os.path.expandvars(os.path.expanduser(checkpoint))
        if not os.path.isfile(path):
            raise ConfigurationError(f'detector.config={checkpoint!r}: state-dict file {path} not found')
        model = torchvision.models.get_model(name, weights=None, weights_backbone=None,
                                             num_classes=len(weights_enum.DEFAULT.meta['categories']))
        model.load_state_dict(self._torch.load(path, map_location='cpu', weights_only=True))
        return model

    @property
    def model_class_names(self) -> Sequence[str]:
        return self._class_names

    def describe(self) -> str:
        return f'torchvision {self.model_name} on {self.device}'

    def predict(self, rgb: np.ndarray) -> RawDetections:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise FrameError(f'the detector needs uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}')
        torch = self._torch
        tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255.0)
        with torch.inference_mode():
            result = self.model([tensor.to(self.device)])[0]
        labels = [self._class_names[int(i)] for i in result['labels'].tolist()]
        return RawDetections(result['boxes'].cpu().numpy().reshape(-1, 4), result['scores'].cpu().numpy(), labels)
