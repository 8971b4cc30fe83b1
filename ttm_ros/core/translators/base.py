"""The translator interface: one RGB frame in, one pseudo-source RGB frame out.

Contract for every translator:
- input: numpy uint8 array of shape (H, W, 3), RGB, C-contiguous or not;
- output: numpy uint8 array of exactly the same shape, RGB;
- a translator that cannot produce a usable image for a frame raises
  `TranslationRejected` (the pipeline then uses the original frame and counts it),
  and one whose input is unusable (too small, aspect beyond the model) raises
  `FrameError` with the value and the fix;
- `cache_key()` returns every setting that changes the output, so a translated frame
  can be cached on disk under (frame content, cache key).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Dict, Optional

import numpy as np

from ttm_ros.core.errors import ConfigurationError

DEFAULT_SOURCE_PROMPT = (
    'Turn this photo into a clear sunny day: bright, uniform daylight, dry road, clean '
    'air. Remove night darkness, fog, haze, rain, snow, glare and drops on the lens. '
    'Keep every object, its position, size and shape, the camera angle and the framing '
    'exactly as they are.'
)


@dataclasses.dataclass
class TranslatorSettings:
    """Settings of every translator; each backend reads the fields it uses.

    Units: `max_pixels` is a pixel count (width x height) of the editor's working
    image; `min_side` and `multiple` are pixels; `haze_strength` and `gamma_target`
    are unitless in [0, 1].
    """

    model: str = ''
    prompt: str = DEFAULT_SOURCE_PROMPT
    steps: int = 4
    guidance_scale: float = 1.0
    seed: int = 0
    max_pixels: int = 1024 * 1024
    min_side: int = 64
    multiple: int = 16
    device: str = 'auto'
    dtype: str = 'auto'
    cache_dir: str = ''
    lora_path: str = ''
    # Classical translator.
    gamma_target: float = 0.45
    clahe_clip: float = 2.0
    haze_strength: float = 0.8
    # Free-form backend options for plug-in translators.
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigurationError(f'translator steps={self.steps} is invalid; use 1 or more')
        if self.max_pixels < self.min_side * self.min_side:
            raise ConfigurationError(
                f'translator max_pixels={self.max_pixels} is below min_side^2='
                f'{self.min_side * self.min_side}; raise max_pixels')
        if self.multiple < 1:
            raise ConfigurationError(f'translator multiple={self.multiple} must be 1 or more')
        if self.dtype not in ('auto', 'bfloat16', 'float32', 'float16'):
            raise ConfigurationError(
                f'translator dtype={self.dtype!r} is invalid; use auto, bfloat16, float32 or float16')


class Translator(abc.ABC):
    """Base class of every translator (see the module docstring for the contract)."""

    #: Registry name, set by each subclass.
    name: str = ''

    def __init__(self, settings: Optional[TranslatorSettings] = None):
        self.settings = settings or TranslatorSettings()

    @abc.abstractmethod
    def translate(self, rgb: np.ndarray) -> np.ndarray:
        """Return the pseudo-source version of `rgb` with the same shape and dtype."""

    def cache_key(self) -> Dict[str, Any]:
        """Return every setting that changes the output, for caches of translated frames."""
        return {'name': self.name, **dataclasses.asdict(self.settings)}

    def set_prompt(self, prompt: str) -> None:
        """Use a new source-domain prompt from the next frame on."""
        self.settings.prompt = prompt

    def close(self) -> None:
        """Release models and memory; the translator is unusable afterwards."""

    def describe(self) -> str:
        """Return one line for the start-up log: backend, model, device, dtype."""
        return self.name
