"""The TTM pipeline for one frame: translate, segment both frames, fuse.

This is the whole method in ROS-free form; the node only decodes messages, calls
`TTMPipeline.process` and publishes the result.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ttm_ros.core.errors import FrameError, TranslationRejected
from ttm_ros.core.fusion import check_translation, fuse_probabilities, validate_weight
from ttm_ros.core.labels import IGNORE
from ttm_ros.core.segmenters.base import Segmenter
from ttm_ros.core.translators.base import Translator

LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass
class FrameResult:
    """Everything the pipeline produced for one frame, all at the input's H x W.

    Masks are uint8 class indices (Cityscapes trainIds for Cityscapes models) with
    255 where no class is valid. `mask_base` and `mask_translated` are None unless
    `process` was asked for all masks. `fallback_reason` is set when the translation was
    rejected and the original frame stood in for it (then `translated` is the
    original frame and `mask_fused` equals `mask_base`).
    """

    translated: np.ndarray
    mask_base: Optional[np.ndarray]
    mask_translated: Optional[np.ndarray]
    mask_fused: np.ndarray
    timings_ms: Dict[str, float]
    fallback_reason: Optional[str] = None


def probabilities_to_mask(probabilities: np.ndarray) -> np.ndarray:
    """Return the uint8 argmax mask of (C, H, W) probabilities (C must be below 255).

    Equal to `np.argmax(probabilities, axis=0)` (ties go to the lower class), computed
    one class plane at a time, which is several times faster on (C, H, W) layouts.
    """
    if probabilities.shape[0] >= IGNORE:
        raise ValueError(f'{probabilities.shape[0]} classes do not fit a mono8 mask')
    best = probabilities[0].copy()
    mask = np.zeros(best.shape, dtype=np.uint8)
    for index in range(1, probabilities.shape[0]):
        better = probabilities[index] > best
        mask[better] = index
        np.maximum(best, probabilities[index], out=best)
    return mask


class TTMPipeline:
    """Test-Time Modification for segmentation: p = w p(x) + (1 - w) p(G(x))."""

    def __init__(self, translator: Translator, segmenter: Segmenter, weight: float = 0.5):
        self.translator = translator
        self.segmenter = segmenter
        self.weight = validate_weight(weight)
        self.fallbacks = 0
        #: When True the translator is skipped: the "translation" is the original frame,
        #: segmented once, for A/B demos.
        self.bypass = False

    def process(self, rgb: np.ndarray, all_masks: bool = True) -> FrameResult:
        """Run the method on one RGB uint8 frame of shape (H, W, 3).

        With `all_masks` False only the fused mask is computed, which saves two argmax
        passes per frame on a live robot.
        """
        _check_frame(rgb)

        # 1. Translate to the pseudo-source domain; a rejected edit falls back.
        start = time.perf_counter()
        translated: Any = rgb
        if not self.bypass:
            try:
                translated = self.translator.translate(rgb)
            except TranslationRejected as error:
                translated = error
        return self._perceive(rgb, translated, _elapsed_ms(start), all_masks)

    def process_batch(self, frames: Sequence[np.ndarray], all_masks: bool = True) -> List[Any]:
        """Run the method on several frames with one batched translation.

        Returns a FrameResult per frame, or the FrameError of a frame that could not be
        processed; the translation time of the batch is split evenly among its frames.
        """
        # 1. Check every frame; only valid ones go into the batch.
        results: List[Any] = [None] * len(frames)
        valid = []
        for index, rgb in enumerate(frames):
            try:
                _check_frame(rgb)
                valid.append(index)
            except FrameError as error:
                results[index] = error

        # 2. Translate the batch, then segment and fuse frame by frame.
        start = time.perf_counter()
        if self.bypass:
            translations: List[Any] = [frames[i] for i in valid]
        else:
            translations = self.translator.translate_batch([frames[i] for i in valid])
        translate_ms = _elapsed_ms(start) / max(len(valid), 1)
        for index, translated in zip(valid, translations):
            try:
                results[index] = self._perceive(frames[index], translated, translate_ms, all_masks)
            except FrameError as error:
                results[index] = error
        return results

    def _perceive(self, rgb: np.ndarray, translated: Any, translate_ms: float,
                  all_masks: bool) -> FrameResult:
        """Segment the frame and its translation (or rejection), fuse, and build the result."""
        timings: Dict[str, float] = {'translate': translate_ms}
        fallback_reason = None
        if isinstance(translated, TranslationRejected):
            fallback_reason, translated = str(translated), rgb
        elif translated is not rgb:
            try:
                check_translation(translated, rgb.shape)
            except TranslationRejected as error:
                fallback_reason, translated = str(error), rgb

        # 2. Segment the original frame.
        start = time.perf_counter()
        p_original = self.segmenter.predict_proba(rgb)
        if not np.isfinite(p_original).all():
            raise FrameError('the segmenter returned NaN or infinite scores for the frame; '
                             'check the model file and its input normalisation')
        timings['segment_original'] = _elapsed_ms(start)

        # 3. Segment the translated frame (skipped when the translation was rejected).
        start = time.perf_counter()
        p_translated = p_original
        if fallback_reason is None and not self.bypass:
            p_translated = self.segmenter.predict_proba(translated)
            if not np.isfinite(p_translated).all():
                fallback_reason = 'the segmenter returned NaN or infinite scores for the translation'
                translated, p_translated = rgb, p_original
        timings['segment_translated'] = _elapsed_ms(start)

        # 4. Fuse and take the argmax of the predictions.
        start = time.perf_counter()
        fused = fuse_probabilities(p_original, p_translated, self.weight)
        mask_fused = probabilities_to_mask(fused)
        mask_base = probabilities_to_mask(p_original) if all_masks else None
        mask_translated = probabilities_to_mask(p_translated) if all_masks else None
        timings['fuse'] = _elapsed_ms(start)

        if fallback_reason is not None:
            self.fallbacks += 1
        return FrameResult(translated, mask_base, mask_translated, mask_fused, timings,
                           fallback_reason)

    def close(self) -> None:
        """Release both models."""
        self.translator.close()
        self.segmenter.close()


def _check_frame(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.size == 0:
        raise FrameError(f'expected an RGB uint8 frame (H, W, 3), got {rgb.dtype} {rgb.shape}')


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def build_pipeline(settings) -> TTMPipeline:
    """Build the translator, the segmenter and the pipeline from `NodeSettings`.

    A segmenter config given as a bare name is looked up in the package's
    config/models folder. Raises ConfigurationError with the fix when a model or
    file is missing.
    """
    from ttm_ros.core.segmenters import build_segmenter
    from ttm_ros.core.translators import build_translator
    from ttm_ros.paths import resolve_config

    segmenter_settings = dataclasses.replace(settings.segmenter)
    if segmenter_settings.config:
        segmenter_settings.config = str(resolve_config(segmenter_settings.config, 'models'))
    segmenter = build_segmenter(settings.segmenter_name, segmenter_settings)
    try:
        translator = build_translator(settings.translator_name, settings.translator)
    except BaseException:
        segmenter.close()
        raise
    return TTMPipeline(translator, segmenter, settings['fusion.weight'])
