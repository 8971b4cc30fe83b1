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

import numpy as np

from ttm_ros.core.perception_model import ModelSettings, PerceptionModel


class SegmenterSettings(ModelSettings):
    """Settings of every segmenter (`config`: the ONNX YAML with input layout, tiling, outputs)."""


class Segmenter(PerceptionModel):
    """Base class of every segmenter (see the module docstring for the contract)."""

    settings_class = SegmenterSettings

    @abc.abstractmethod
    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (C, H, W) at the input resolution."""
