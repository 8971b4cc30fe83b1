"""The classifier interface: one RGB image in, class probabilities out.

Contract for every classifier:
- input: numpy uint8 array (H, W, 3), RGB;
- output of `predict_proba`: numpy float32 array (C,), finite, summing to 1;
- `class_names` has C entries. ImageNet-1k models use the ILSVRC-2012 index order
  (class i is the i-th WordNet id in sorted order).
"""

from __future__ import annotations

import abc

import numpy as np

from ttm_ros.core.perception_model import ModelSettings, PerceptionModel


class ClassifierSettings(ModelSettings):
    """Settings of every classifier (`config`: the ONNX YAML with input layout and crop)."""


class Classifier(PerceptionModel):
    """Base class of every classifier (see the module docstring for the contract)."""

    settings_class = ClassifierSettings

    @abc.abstractmethod
    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (C,)."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return the float32 softmax of a 1-D logit vector."""
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits)
    exponentials = np.exp(shifted)
    return (exponentials / exponentials.sum()).astype(np.float32)
