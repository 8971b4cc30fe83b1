"""Fusion, the pipeline's fallback rules, the frame slot and stage statistics."""

import threading

import numpy as np
import pytest

from ttm_ros.core.errors import ConfigurationError, FrameError, TranslationRejected
from ttm_ros.core.frame_slot import FrameSlot
from ttm_ros.core.fusion import check_translation, fuse_probabilities, validate_weight
from ttm_ros.core.pipeline import TTMPipeline, probabilities_to_mask
from ttm_ros.core.repeat_filter import RepeatFilter, message_kind
from ttm_ros.core.segmenters.base import Segmenter
from ttm_ros.core.stats import StageStats
from ttm_ros.core.translators.base import Translator


class ChannelSegmenter(Segmenter):
    """Two classes: probability of class 1 = red channel / 255 (deterministic, exact)."""

    name = 'channel'

    @property
    def class_names(self):
        return ('dark', 'red')

    def predict_proba(self, rgb):
        red = rgb[..., 0].astype(np.float32) / 255.0
        return np.stack([1.0 - red, red])


class FixedTranslator(Translator):
    """Returns a preset image (or raises), to drive the pipeline's rules."""

    name = 'fixed'

    def __init__(self, output=None, error=None):
        super().__init__()
        self.output, self.error = output, error

    def translate(self, rgb):
        if self.error:
            raise self.error
        return self.output


def frame(red: int, shape=(4, 6)) -> np.ndarray:
    image = np.zeros((*shape, 3), np.uint8)
    image[..., 0] = red
    return image


def test_fusion_is_weighted_mean():
    p_original = np.array([[[0.2]], [[0.8]]], np.float32)
    p_translated = np.array([[[0.6]], [[0.4]]], np.float32)
    fused = fuse_probabilities(p_original, p_translated, 0.25)
    np.testing.assert_allclose(fused[:, 0, 0], [0.25 * 0.2 + 0.75 * 0.6, 0.25 * 0.8 + 0.75 * 0.4])


def test_fusion_rejects_shape_mismatch():
    with pytest.raises(ValueError, match='shapes'):
        fuse_probabilities(np.zeros((2, 3, 3)), np.zeros((2, 3, 4)))


@pytest.mark.parametrize('weight', [-0.01, 1.01, float('nan')])
def test_fusion_weight_outside_range(weight):
    with pytest.raises(ConfigurationError, match='fusion.weight'):
        validate_weight(weight)


def test_pipeline_fuses_both_predictions():
    pipeline = TTMPipeline(FixedTranslator(output=frame(255)), ChannelSegmenter(), weight=0.5)
    result = pipeline.process(frame(100))  # p(red) = 0.39 original, 1.0 translated
    assert (result.mask_base == 0).all()
    assert (result.mask_translated == 1).all()
    assert (result.mask_fused == 1).all()
    assert result.fallback_reason is None


def test_identity_fusion_equals_base():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    pipeline = TTMPipeline(FixedTranslator(output=image.copy()), ChannelSegmenter())
    result = pipeline.process(image)
    assert np.array_equal(result.mask_fused, result.mask_base)


@pytest.mark.parametrize('translation, reason', [
    (frame(0), 'all black'),
    (np.full((4, 6, 3), np.nan, np.float32), 'NaN'),
    (np.zeros((0, 0, 3), np.uint8), 'empty'),
    (frame(200, shape=(5, 6)), 'shape'),
])
def test_bad_translation_falls_back(translation, reason):
    pipeline = TTMPipeline(FixedTranslator(output=translation), ChannelSegmenter())
    original = frame(200)
    result = pipeline.process(original)
    assert reason in result.fallback_reason
    assert np.array_equal(result.translated, original)
    assert np.array_equal(result.mask_fused, result.mask_base)
    assert pipeline.fallbacks == 1


def test_rejected_translation_counts_fallback():
    pipeline = TTMPipeline(FixedTranslator(error=TranslationRejected('editor overflow')),
                           ChannelSegmenter())
    pipeline.process(frame(10))
    pipeline.process(frame(10))
    assert pipeline.fallbacks == 2


def test_nan_original_prediction_fails_frame():
    class NanSegmenter(ChannelSegmenter):
        def predict_proba(self, rgb):
            return np.full((2, *rgb.shape[:2]), np.nan, np.float32)

    pipeline = TTMPipeline(FixedTranslator(output=frame(5)), NanSegmenter())
    with pytest.raises(FrameError, match='NaN'):
        pipeline.process(frame(5))


@pytest.mark.parametrize('bad', [np.zeros((4, 6), np.uint8), np.zeros((4, 6, 3), np.float32),
                                 np.zeros((0, 6, 3), np.uint8)])
def test_pipeline_rejects_non_rgb_input(bad):
    pipeline = TTMPipeline(FixedTranslator(output=frame(5)), ChannelSegmenter())
    with pytest.raises(FrameError, match='RGB uint8'):
        pipeline.process(bad)


def test_mask_matches_numpy_argmax_with_ties():
    rng = np.random.default_rng(1)
    probabilities = rng.random((19, 13, 17)).astype(np.float32)
    probabilities[4] = probabilities[7]
    assert np.array_equal(probabilities_to_mask(probabilities), np.argmax(probabilities, axis=0))


def test_check_translation_accepts_normal_image():
    check_translation(frame(30), (4, 6, 3))


def test_live_slot_keeps_newest_and_counts_drops():
    slot = FrameSlot(keep_all=False)
    for index in range(5):
        slot.put(index)
    assert slot.take(timeout=0) == 4
    assert slot.dropped == 4
    assert slot.received == 5


def test_evaluation_slot_keeps_every_frame_in_order():
    slot = FrameSlot(keep_all=True)
    for index in range(5):
        slot.put(index)
    assert [slot.take(timeout=0) for _ in range(5)] == [0, 1, 2, 3, 4]
    assert slot.dropped == 0


def test_evaluation_slot_drops_oldest_beyond_max_queue():
    slot = FrameSlot(keep_all=True, max_queue=3)
    pushed_out = [slot.put(index) for index in range(5)]
    assert pushed_out == [0, 0, 0, 1, 1]
    assert [slot.take(timeout=0) for _ in range(3)] == [2, 3, 4]
    assert (slot.dropped, slot.received) == (2, 5)


def test_slot_take_wakes_on_put_and_close():
    slot = FrameSlot()
    results = []
    consumer = threading.Thread(target=lambda: results.append(slot.take(timeout=5)))
    consumer.start()
    slot.put('frame')
    consumer.join(timeout=5)
    assert results == ['frame']
    slot.close()
    assert slot.take(timeout=5) is None


def test_repeat_filter_limits_each_kind_on_its_own():
    now = [0.0]
    repeats = RepeatFilter(interval=5.0, clock=lambda: now[0])
    assert repeats.check(('front', message_kind('frame is 1000x2'))) == 0
    assert repeats.check(('front', message_kind('frame is 900x3'))) is None  # same kind
    assert repeats.check(('front', 'encoding 32FC1 is not supported')) == 0  # another kind
    assert repeats.check(('rear', message_kind('frame is 1000x2'))) == 0  # another camera
    now[0] = 5.0
    assert repeats.check(('front', message_kind('frame is 7x7'))) == 1  # one left out meanwhile
    assert repeats.check(('front', message_kind('frame is 7x7'))) is None


def test_stage_stats_mean_and_p95():
    stats = StageStats(window=100)
    for value in range(1, 101):
        stats.record({'translate': float(value)})
    summary = stats.summary()['translate']
    assert summary['mean_ms'] == pytest.approx(50.5)
    assert summary['p95_ms'] == pytest.approx(95.05)
    assert summary['count'] == 100
