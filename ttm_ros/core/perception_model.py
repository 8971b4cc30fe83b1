"""The common base of segmenters and classifiers: settings, class names, probabilities."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Dict, Optional, Sequence

import numpy as np


@dataclasses.dataclass
class ModelSettings:
    """Settings of a perception model; each backend reads the fields it uses.

    `model` is a hub id or local directory (transformers) or an .onnx file that
    replaces the model named in `config`; `config` is the ONNX backend's YAML file.
    """

    model: str = ''
    config: str = ''
    device: str = 'auto'
    num_threads: int = 0
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)


class PerceptionModel(abc.ABC):
    """A model that returns class probabilities for an RGB uint8 (H, W, 3) image."""

    #: Registry name, set by each backend.
    name: str = ''
    #: The settings class a backend is built from.
    settings_class = ModelSettings

    def __init__(self, settings: Optional[ModelSettings] = None):
        self.settings = settings or self.settings_class()

    @property
    @abc.abstractmethod
    def class_names(self) -> Sequence[str]:
        """Class names, one per probability."""

    @abc.abstractmethod
    def predict_proba(self, rgb: np.ndarray) -> np.ndarray:
        """Return float32 class probabilities (see the subclass for the shape)."""

    def close(self) -> None:
        """Release the model."""

    def describe(self) -> str:
        """Return one line for the start-up log: backend, model, device."""
        return self.name
