"""The classical translator: weight-free low-light and haze correction on the CPU.

Per frame, with the parameters of `TranslatorSettings` (docs/classical-translator.md
explains each one):
1. reduce the frame `analysis_downscale` times per side and estimate on that copy the
   atmospheric light A and the transmission map t with the dark-channel prior, and the
   haze level (median dark channel of I / A);
2. when the haze level exceeds `haze_threshold`, dehaze the full frame with
   J = (I - A) / t + A, t upsampled bilinearly and bounded below by `transmission_min`;
3. when the mean luminance (measured on the dehazed small copy) is below
   `gamma_target`, brighten with the gamma curve that maps that mean to the target,
   through a 256-entry lookup table;
4. optionally equalise luminance with CLAHE (`clahe_clip` > 0).

Everything is deterministic: the same frame and settings give the same bytes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from ttm_ros.core.translators.base import Translator, TranslatorSettings
from ttm_ros.core.translators.frames import validate_rgb_frame

#: Rec. 601 luma weights of R, G and B.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)

#: Side of the square minimum filter of the dark channel, in pixels of the reduced copy
#: (3 px there is 24 px of the frame at the default `analysis_downscale` of 8).
DARK_CHANNEL_KERNEL = 3
#: Fraction of reduced-copy pixels with the highest dark channel that give A.
ATMOSPHERIC_LIGHT_FRACTION = 0.001
#: Dehazing reaches full `haze_strength` this far above `haze_threshold`.
HAZE_RAMP = 0.2
#: Radius (reduced-copy pixels) and regularisation of the guided filter that makes the
#: transmission map follow edges of the luminance.
GUIDED_FILTER_RADIUS = 4
GUIDED_FILTER_EPS = 1e-3


@dataclasses.dataclass(frozen=True)
class FrameEstimate:
    """Measurements of step 1 on one frame and the corrections chosen from them."""

    #: Atmospheric light A, RGB in [0, 1].
    atmospheric_light: np.ndarray
    #: Median of the dark channel of I / A over the reduced copy, in [0, 1].
    haze_level: float
    #: Fraction of the haze removed (`haze_strength` times the haze ramp); 0 means none.
    dehaze_weight: float
    #: Transmission map of the reduced copy in [transmission_min, 1], or None.
    transmission: Optional[np.ndarray]
    #: Mean luminance in [0, 1] of the reduced copy after dehazing.
    mean_luminance: float
    #: Gamma exponent applied to every channel; 1 means unchanged.
    gamma: float


class ClassicalTranslator(Translator):
    """Dark-channel dehazing and adaptive gamma; no model weights, no GPU."""

    name = 'classical'

    def __init__(self, settings: Optional[TranslatorSettings] = None):
        super().__init__(settings)
        self._clahe: Optional[Tuple[float, int, cv2.CLAHE]] = None
        self._workspace = Workspace()
        #: Estimate of the last translated frame, for logs and tests.
        self.last_estimate: Optional[FrameEstimate] = None

    def translate(self, rgb: np.ndarray) -> np.ndarray:
        """Return the corrected frame: uint8 RGB with the shape of `rgb`."""
        validate_rgb_frame(rgb)
        rgb = np.ascontiguousarray(rgb)

        # 1. Estimate haze and brightness on a reduced copy.
        estimate = estimate_frame(rgb, self.settings)
        self.last_estimate = estimate

        # 2. Dehaze the full frame.
        corrected = rgb
        if estimate.transmission is not None:
            corrected = dehaze(rgb, estimate.atmospheric_light, estimate.transmission,
                               self._workspace)

        # 3. Brighten dark frames.
        if estimate.gamma < 1.0:
            # In place when `corrected` is already a new array.
            corrected = cv2.LUT(corrected, gamma_table(estimate.gamma),
                                dst=None if corrected is rgb else corrected)

        # 4. Equalise luminance locally.
        if self.settings.clahe_clip > 0:
            corrected = self._equalize_luminance(corrected)

        return corrected.copy() if corrected is rgb else corrected

    def cache_key(self):
        """Return the name and every classical parameter."""
        settings = self.settings
        return {'name': self.name, 'gamma_target': settings.gamma_target,
                'gamma_min': settings.gamma_min, 'haze_strength': settings.haze_strength,
                'haze_threshold': settings.haze_threshold,
                'transmission_min': settings.transmission_min,
                'clahe_clip': settings.clahe_clip, 'clahe_tiles': settings.clahe_tiles,
                'analysis_downscale': settings.analysis_downscale}

    def describe(self) -> str:
        """Return one line for the start-up log."""
        settings = self.settings
        clahe = (f'clahe clip {settings.clahe_clip:g} on {settings.clahe_tiles}x'
                 f'{settings.clahe_tiles} tiles' if settings.clahe_clip > 0 else 'no clahe')
        return (f'classical translator on CPU: dehaze strength {settings.haze_strength:g} '
                f'above haze level {settings.haze_threshold:g}, gamma toward mean '
                f'{settings.gamma_target:g} (exponent >= {settings.gamma_min:g}), {clahe}')

    def _equalize_luminance(self, rgb: np.ndarray) -> np.ndarray:
        clip, tiles = self.settings.clahe_clip, self.settings.clahe_tiles
        if self._clahe is None or self._clahe[:2] != (clip, tiles):
            self._clahe = (clip, tiles, cv2.createCLAHE(clipLimit=clip, tileGridSize=(tiles, tiles)))
        luma, red_difference, blue_difference = cv2.split(cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb))
        luma = self._clahe[2].apply(luma)
        return cv2.cvtColor(cv2.merge([luma, red_difference, blue_difference]),
                            cv2.COLOR_YCrCb2RGB)


def estimate_frame(rgb: np.ndarray, settings: TranslatorSettings) -> FrameEstimate:
    """Estimate atmospheric light, transmission and gamma on a reduced copy of `rgb`."""
    height, width = rgb.shape[:2]
    reduced_size = (max(1, round(width / settings.analysis_downscale)),
                    max(1, round(height / settings.analysis_downscale)))
    small = cv2.resize(rgb, reduced_size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255

    atmospheric_light = estimate_atmospheric_light(small)
    normalized_dark = dark_channel(small / atmospheric_light)
    haze_level = float(np.median(normalized_dark))
    ramp = min(1.0, max(0.0, (haze_level - settings.haze_threshold) / HAZE_RAMP))
    dehaze_weight = settings.haze_strength * ramp

    transmission = None
    dehazed_small = small
    if dehaze_weight > 0:
        transmission = 1.0 - dehaze_weight * normalized_dark
        transmission = guided_filter(small @ LUMA_WEIGHTS, transmission,
                                     GUIDED_FILTER_RADIUS, GUIDED_FILTER_EPS)
        transmission = np.clip(transmission, settings.transmission_min, 1.0).astype(np.float32)
        dehazed_small = np.clip((small - atmospheric_light) / transmission[..., None]
                                + atmospheric_light, 0.0, 1.0)

    mean_luminance = float((dehazed_small @ LUMA_WEIGHTS).mean())
    return FrameEstimate(atmospheric_light, haze_level, dehaze_weight, transmission,
                         mean_luminance, choose_gamma(mean_luminance, settings))


def choose_gamma(mean_luminance: float, settings: TranslatorSettings) -> float:
    """Return the exponent g with mean_luminance ** g == gamma_target, within
    [gamma_min, 1]; frames at or above the target keep g = 1."""
    if mean_luminance >= settings.gamma_target:
        return 1.0
    # A black frame (mean 0) gets the strongest brightening.
    mean_luminance = max(mean_luminance, 1e-4)
    return max(settings.gamma_min, math.log(settings.gamma_target) / math.log(mean_luminance))


def gamma_table(gamma: float) -> np.ndarray:
    """Return the uint8 lookup table of v -> 255 * (v / 255) ** gamma, rounded."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    return np.clip(np.rint(255.0 * levels ** gamma), 0, 255).astype(np.uint8)


def dark_channel(image: np.ndarray) -> np.ndarray:
    """Return the per-pixel minimum over channels, minimum-filtered over a square."""
    kernel = np.ones((DARK_CHANNEL_KERNEL, DARK_CHANNEL_KERNEL), np.uint8)
    return cv2.erode(image.min(axis=2), kernel, borderType=cv2.BORDER_REFLECT)


def estimate_atmospheric_light(small: np.ndarray) -> np.ndarray:
    """Return the mean colour of the pixels with the highest dark channel (the most
    haze-opaque region), at least 0.05 per channel so I / A stays finite."""
    dark = dark_channel(small).ravel()
    count = max(1, int(dark.size * ATMOSPHERIC_LIGHT_FRACTION))
    brightest = np.argpartition(dark, dark.size - count)[dark.size - count:]
    light = small.reshape(-1, 3)[brightest].mean(axis=0)
    return np.maximum(light, 0.05).astype(np.float32)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int,
                  eps: float) -> np.ndarray:
    """Return `source` smoothed by the guided filter with the grey image `guide`."""
    def box(values: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(values, -1, (2 * radius + 1, 2 * radius + 1),
                             borderType=cv2.BORDER_REFLECT)

    guide = guide.astype(np.float32)
    source = source.astype(np.float32)
    mean_guide, mean_source = box(guide), box(source)
    covariance = box(guide * source) - mean_guide * mean_source
    variance = box(guide * guide) - mean_guide * mean_guide
    slope = covariance / (variance + eps)
    intercept = mean_source - slope * mean_guide
    return box(slope) * guide + box(intercept)


class Workspace:
    """Reusable float32 buffers for the full-size steps.

    Fresh 10 MB arrays on every frame cost page faults, measured at several ms per
    1280x720 frame on a 2-core VM, so `dehaze` writes into these instead. Not
    thread-safe: use one workspace per thread.
    """

    def __init__(self) -> None:
        self._arrays: Dict[str, np.ndarray] = {}

    def array(self, name: str, shape: Tuple[int, ...]) -> np.ndarray:
        """Return the buffer `name` with `shape`, reallocated when the shape changes."""
        array = self._arrays.get(name)
        if array is None or array.shape != shape:
            array = np.empty(shape, np.float32)
            self._arrays[name] = array
        return array


def dehaze(rgb: np.ndarray, atmospheric_light: np.ndarray, transmission: np.ndarray,
           workspace: Optional[Workspace] = None) -> np.ndarray:
    """Return J = (I - A) * g + A for the full uint8 frame, with the gain g = 1 / t.

    The gain is computed on the reduced copy and upsampled bilinearly to the frame.
    """
    workspace = workspace or Workspace()
    height, width = rgb.shape[:2]
    light = tuple(255.0 * float(channel) for channel in atmospheric_light) + (0.0,)

    small_gain = np.reciprocal(transmission)
    gain = workspace.array('gain', (height, width, 3))
    cv2.resize(cv2.merge([small_gain, small_gain, small_gain]), (width, height), dst=gain,
               interpolation=cv2.INTER_LINEAR)

    dehazed = workspace.array('dehazed', (height, width, 3))
    np.copyto(dehazed, rgb, casting='unsafe')
    cv2.subtract(dehazed, light, dst=dehazed)
    cv2.multiply(dehazed, gain, dst=dehazed)
    cv2.add(dehazed, light, dst=dehazed)
    # convertScaleAbs rounds and saturates to uint8; negative values are set to 0 first.
    cv2.max(dehazed, 0.0, dst=dehazed)
    return cv2.convertScaleAbs(dehazed)
