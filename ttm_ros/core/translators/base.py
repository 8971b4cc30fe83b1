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
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ttm_ros.core.errors import ConfigurationError, TranslationRejected
from ttm_ros.core.prompts import default_prompt


def parse_sizes(text: str) -> List[Tuple[int, int]]:
    """Return [(height, width)] from 'WxH,WxH' (e.g. '1280x720,1024x512'); '' gives []."""
    sizes = []
    for item in filter(None, (part.strip() for part in text.split(','))):
        width, separator, height = item.lower().partition('x')
        if not separator or not width.isdigit() or not height.isdigit() or not int(width) or not int(height):
            raise ConfigurationError(f'frame size {item!r} in translator.warmup_sizes is invalid; '
                                     'write WIDTHxHEIGHT, e.g. 1280x720,1024x512')
        sizes.append((int(height), int(width)))
    return sizes


@dataclasses.dataclass
class TranslatorSettings:
    """Settings of every translator; each backend reads the fields it uses.

    Editors (flux2-klein, kontext, qwen-edit):
    - `model`: hub id or local directory of a diffusers pipeline (required);
    - `prompt`: source-domain prompt text, by default that of the `clear_day_driving`
      preset. `ttm_ros.core.prompts.resolve_prompt` turns preset names and prompt
      files into text;
    - `steps`: denoising steps per frame, 0 selects the backend default (flux2-klein 4,
      kontext 28, qwen-edit 50, or 8 with a LoRA);
    - `guidance_scale`: 0 selects the backend default (flux2-klein 1.0, kontext 2.5,
      qwen-edit 4.0 or 1.0 with a LoRA);
    - `seed`: seed of the initial noise, the same for every frame;
    - `max_pixels` (pixels, width x height), `min_side` and `multiple` (pixels): bounds
      of the working image (see `ttm_ros.core.sizing.pick_working_size`);
    - `device`: auto (CUDA when available), cpu, cuda or cuda:N; `dtype`: auto
      (bfloat16 on CUDA, float32 on CPU), bfloat16, float32 or float16;
    - `cache_dir`: folder of cached prompt embeddings, empty selects
      ~/.cache/ttm_ros/prompt_embeds; `lora_path`: local LoRA file (qwen-edit).

    Classical translator (all unitless; luminance is Rec. 601 luma of the 8-bit
    values divided by 255):
    - `gamma_target` in (0, 1): mean luminance that dark frames are brightened to;
    - `gamma_min` in (0, 1]: smallest gamma exponent, i.e. the strongest brightening;
    - `haze_strength` in [0, 1]: fraction of the estimated haze removed, 0 disables;
    - `haze_threshold` in [0, 1): haze level (median dark channel) below which a frame
      counts as clear and is not dehazed;
    - `transmission_min` in (0, 1]: lower bound of the transmission map, which limits
      the contrast gain of dehazing to 1 / transmission_min;
    - `clahe_clip` >= 0: CLAHE clip limit on luminance, 0 disables;
      `clahe_tiles` >= 1: CLAHE tiles per side;
    - `analysis_downscale` >= 1: the frame is reduced this many times per side to
      estimate brightness and haze.
    """

    model: str = ''
    prompt: str = dataclasses.field(default_factory=default_prompt)
    steps: int = 0
    guidance_scale: float = 0.0
    seed: int = 0
    max_pixels: int = 1024 * 1024
    min_side: int = 64
    multiple: int = 16
    device: str = 'auto'
    dtype: str = 'auto'
    cache_dir: str = ''
    lora_path: str = ''
    # Speed options of the diffusion editors (see DiffusersTranslator).
    compile: bool = False
    warmup_sizes: str = ''
    attention_backend: str = ''
    channels_last: bool = False
    cpu_offload: str = 'none'
    # Classical translator.
    gamma_target: float = 0.35
    gamma_min: float = 0.4
    haze_strength: float = 0.8
    haze_threshold: float = 0.25
    transmission_min: float = 0.4
    clahe_clip: float = 0.0
    clahe_tiles: int = 8
    analysis_downscale: int = 8
    # Free-form backend options for plug-in translators.
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self._validate_editor_fields()
        self._validate_classical_fields()

    def _validate_editor_fields(self) -> None:
        if self.steps < 0:
            raise ConfigurationError(
                f'translator steps={self.steps} is invalid; use 0 (backend default) or more')
        if self.guidance_scale < 0:
            raise ConfigurationError(
                f'translator guidance_scale={self.guidance_scale} is invalid; use 0 '
                '(backend default) or a positive scale')
        if self.max_pixels < self.min_side * self.min_side:
            raise ConfigurationError(
                f'translator max_pixels={self.max_pixels} is below min_side^2='
                f'{self.min_side * self.min_side}; raise max_pixels')
        if self.multiple < 1:
            raise ConfigurationError(f'translator multiple={self.multiple} must be 1 or more')
        if self.dtype not in ('auto', 'bfloat16', 'float32', 'float16'):
            raise ConfigurationError(
                f'translator dtype={self.dtype!r} is invalid; use auto, bfloat16, float32 or float16')
        if self.cpu_offload not in ('none', 'model', 'sequential'):
            raise ConfigurationError(
                f'translator cpu_offload={self.cpu_offload!r} is invalid; use none, model or sequential')
        parse_sizes(self.warmup_sizes)

    def _validate_classical_fields(self) -> None:
        ranges = {
            'gamma_target': (0.0, 1.0, False, False),
            'gamma_min': (0.0, 1.0, False, True),
            'haze_strength': (0.0, 1.0, True, True),
            'haze_threshold': (0.0, 1.0, True, False),
            'transmission_min': (0.0, 1.0, False, True),
        }
        for name, (low, high, low_inclusive, high_inclusive) in ranges.items():
            value = getattr(self, name)
            above_low = value >= low if low_inclusive else value > low
            below_high = value <= high if high_inclusive else value < high
            if not (above_low and below_high):
                interval = (('[' if low_inclusive else '(') + f'{low:g}, {high:g}'
                            + (']' if high_inclusive else ')'))
                raise ConfigurationError(
                    f'translator {name}={value} is outside {interval}; use a value inside it')
        if self.clahe_clip < 0:
            raise ConfigurationError(
                f'translator clahe_clip={self.clahe_clip} is invalid; use 0 (off) or more')
        for name in ('clahe_tiles', 'analysis_downscale'):
            if getattr(self, name) < 1:
                raise ConfigurationError(
                    f'translator {name}={getattr(self, name)} is invalid; use 1 or more')


class Translator(abc.ABC):
    """Base class of every translator (see the module docstring for the contract)."""

    #: Registry name, set by each subclass.
    name: str = ''
    #: Whether the output depends on `settings.prompt` (the image editors).
    uses_prompt: bool = False

    def __init__(self, settings: Optional[TranslatorSettings] = None):
        self.settings = settings or TranslatorSettings()

    @abc.abstractmethod
    def translate(self, rgb: np.ndarray) -> np.ndarray:
        """Return the pseudo-source version of `rgb` with the same shape and dtype."""

    def translate_batch(self, frames: Sequence[np.ndarray]) -> List[Any]:
        """Return the translation of each frame; frames may differ in size.

        Each result equals `translate(frame)` to float tolerance; the entry of a frame
        whose translation was rejected is the `TranslationRejected` error. This default
        translates one frame at a time; editors that can batch override it.
        """
        results: List[Any] = []
        for frame in frames:
            try:
                results.append(self.translate(frame))
            except TranslationRejected as error:
                results.append(error)
        return results

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
