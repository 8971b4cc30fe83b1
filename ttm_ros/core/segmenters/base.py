"""The segmenter interface: one RGB frame in, per-pixel class probabilities out.

Contract for every segmenter:
- input: numpy uint8 array (H, W, 3), RGB;
- output of `predict_proba`: numpy float32 array (C, H, W) at exactly the input
  resolution, finite, each pixel's C values summing to 1 (softmax probabilities);
- `class_names` has C entries. When they are the 19 Cityscapes training classes in
  their standard order, class index i is Cityscapes trainId i, which the masks use.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Dict, Optional, Sequence

import numpy as np


@dataclasses.dataclass
class SegmenterSettings:
    """Settings of every segmenter; each backend reads the fields it uses.

    `model` is a hub id or local directory (transformers) or an .onnx file;
    `config` is the backend's YAML file (ONNX: input layout, tiling, outputs).
    """

    model: str = ''
    config: str = ''
    device: str = 'auto'
    num_threads: int = 0
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)


class Segmenter(abc.ABC):
    """Base class of every segmenter (see the module docstring for the contract)."""

    name: str = ''

    def __init__(self, settings: Optional[SegmenterSettings] = None):
        self.settings = settings or SegmenterSettings()

    @property
    @abc.abstractmethod
    def class_names(self) -> Sequence[str]:
        """Class names, one per probability channel."""

    @abc.abstractmethod
    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (C, H, W) at the input resolution."""

    def close(self) -> None:
        """Release the model."""

    def describe(self) -> str:
        """Return one line for the start-up log: backend, model, device."""
        return self.name
