"""The classifier interface: one RGB image in, class probabilities out.

Contract for every classifier:
- input: numpy uint8 array (H, W, 3), RGB;
- output of `predict_proba`: numpy float32 array (C,), finite, summing to 1;
- `class_names` has C entries. ImageNet-1k models use the ILSVRC-2012 index order
  (class i is the i-th WordNet id in sorted order).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Dict, Optional, Sequence

import numpy as np


@dataclasses.dataclass
class ClassifierSettings:
    """Settings of every classifier; each backend reads the fields it uses.

    `model` is a hub id or local directory (transformers) or an .onnx file that
    replaces the model named in `config`; `config` is the ONNX backend's YAML file.
    """

    model: str = ''
    config: str = ''
    device: str = 'auto'
    num_threads: int = 0
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)


class Classifier(abc.ABC):
    """Base class of every classifier (see the module docstring for the contract)."""

    name: str = ''

    def __init__(self, settings: Optional[ClassifierSettings] = None):
        self.settings = settings or ClassifierSettings()

    @property
    @abc.abstractmethod
    def class_names(self) -> Sequence[str]:
        """Class names, one per probability."""

    @abc.abstractmethod
    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (C,)."""

    def close(self) -> None:
        """Release the model."""

    def describe(self) -> str:
        """Return one line for the start-up log: backend, model, device."""
        return self.name


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return the float32 softmax of a 1-D logit vector."""
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits)
    exponentials = np.exp(shifted)
    return (exponentials / exponentials.sum()).astype(np.float32)
