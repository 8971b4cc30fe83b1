"""Tests of the identity and classical translators on real frames."""

import dataclasses
import importlib.util
import pathlib

import cv2
import numpy as np
import pytest

from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.translators import build_translator
from ttm_ros.core.translators.base import TranslatorSettings
from ttm_ros.core.translators.classical import ClassicalTranslator, gamma_table
from ttm_ros.core.translators.identity import IdentityTranslator

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
NIGHT_FRAME = 'acdc-mooss-1024x512/images/GP010376_frame_000129_rgb_anon.png'
CLEAR_FRAMES = ['acdc-mooss-1024x512/images/zurich_000087_000019_leftImg8bit.png',
                'cityscapes-mmseg-tiny/frankfurt_000000_000294_leftImg8bit.png',
                'cityscapes-espnet-val-fullres/frankfurt_000000_000576_leftImg8bit.png']


def read_rgb(path: pathlib.Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f'cannot read {path}'
    return np.ascontiguousarray(bgr[..., ::-1])


def luminance(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)


def mean_gradient(rgb: np.ndarray) -> float:
    """Return the mean absolute difference of neighbouring luminance values."""
    grey = luminance(rgb)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def load_bench_module():
    spec = importlib.util.spec_from_file_location('classical_fps',
                                                  REPO_ROOT / 'bench' / 'classical_fps.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def night_frame(shared_data):
    return read_rgb(shared_data / NIGHT_FRAME)


def test_identity_returns_equal_copy():
    frame = np.random.default_rng(0).integers(0, 256, (67, 129, 3), dtype=np.uint8)
    translated = IdentityTranslator().translate(frame)
    assert translated is not frame
    np.testing.assert_array_equal(translated, frame)


def test_identity_rejects_wrong_dtype():
    with pytest.raises(FrameError, match='dtype float32'):
        IdentityTranslator().translate(np.zeros((8, 8, 3), np.float32))


def test_registry_builds_weight_free_translators():
    settings = TranslatorSettings()
    assert isinstance(build_translator('identity', settings), IdentityTranslator)
    assert isinstance(build_translator('classical', settings), ClassicalTranslator)


def test_classical_deterministic(night_frame):
    first = ClassicalTranslator().translate(night_frame)
    second = ClassicalTranslator().translate(night_frame)
    third = ClassicalTranslator().translate(night_frame.copy())
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, third)


def test_classical_brightens_night_frame(night_frame):
    translator = ClassicalTranslator()
    translated = translator.translate(night_frame)
    # Measured: mean luminance 39.3 -> 81.5 grey levels with gamma 0.56.
    assert luminance(translated).mean() > luminance(night_frame).mean() + 30
    assert translator.last_estimate.gamma < 0.7
    assert translator.last_estimate.dehaze_weight == 0.0


@pytest.mark.parametrize('relative_path', CLEAR_FRAMES)
def test_classical_keeps_clear_frame(shared_data, relative_path):
    frame = read_rgb(shared_data / relative_path)
    translated = ClassicalTranslator().translate(frame)
    difference = np.abs(translated.astype(np.int16) - frame.astype(np.int16))
    # Measured: mean 0.90 and max 1 grey level on the zurich frame (gamma 0.985),
    # 0 on the two frankfurt frames (no correction chosen).
    assert difference.mean() <= 1.0
    assert difference.max() <= 2


def test_classical_raises_contrast_on_fog(shared_data):
    images = sorted((shared_data / 'fog-boxes-dawn' / 'images').glob('*.jpg'))
    assert len(images) == 20
    raised = 0
    for path in images:
        frame = read_rgb(path)
        translated = ClassicalTranslator().translate(frame)
        raised += mean_gradient(translated) > mean_gradient(frame)
    # Measured: the mean luminance gradient rises on all 20 DAWN fog images; the RMS
    # contrast (standard deviation) rises on 16 of them.
    assert raised == len(images)


def test_classical_dehazes_dense_fog(shared_data):
    frame = read_rgb(shared_data / 'fog-boxes-dawn' / 'images' / 'foggy-024.jpg')
    translator = ClassicalTranslator()
    translated = translator.translate(frame)
    # Measured: RMS contrast 16.0 -> 29.3 grey levels, dehaze weight 0.8.
    assert luminance(translated).std() > 1.5 * luminance(frame).std()
    assert translator.last_estimate.haze_level > 0.5
    assert translator.last_estimate.dehaze_weight == pytest.approx(0.8)


@pytest.mark.parametrize('shape', [(1, 1, 3), (2, 3, 3), (9, 17, 3), (67, 129, 3),
                                   (75, 100, 3), (4, 1, 3)])
@pytest.mark.parametrize('clahe_clip', [0.0, 2.0])
def test_classical_keeps_shape_and_dtype(shape, clahe_clip):
    frame = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    translated = ClassicalTranslator(TranslatorSettings(clahe_clip=clahe_clip)).translate(frame)
    assert translated.shape == shape
    assert translated.dtype == np.uint8


def test_classical_accepts_strided_view_and_keeps_input(night_frame):
    flipped = night_frame[:, ::-1]
    before = flipped.copy()
    translated = ClassicalTranslator().translate(flipped)
    np.testing.assert_array_equal(flipped, before)
    np.testing.assert_array_equal(translated,
                                  ClassicalTranslator().translate(np.ascontiguousarray(flipped)))


def test_classical_unchanged_frame_is_copy():
    frame = np.full((32, 48, 3), 200, np.uint8)
    translator = ClassicalTranslator(TranslatorSettings(haze_strength=0.0))
    translated = translator.translate(frame)
    assert translated is not frame
    np.testing.assert_array_equal(translated, frame)


def test_classical_clahe_changes_output(night_frame):
    plain = ClassicalTranslator().translate(night_frame)
    equalised = ClassicalTranslator(TranslatorSettings(clahe_clip=2.0)).translate(night_frame)
    assert np.abs(plain.astype(np.int16) - equalised.astype(np.int16)).mean() > 1.0


def test_classical_haze_strength_zero_disables_dehazing(shared_data):
    frame = read_rgb(shared_data / 'fog-boxes-dawn' / 'images' / 'foggy-024.jpg')
    translator = ClassicalTranslator(TranslatorSettings(haze_strength=0.0))
    translated = translator.translate(frame)
    assert translator.last_estimate.transmission is None
    expected = cv2.LUT(frame, gamma_table(translator.last_estimate.gamma))
    np.testing.assert_array_equal(translated, expected)


def test_gamma_table_endpoints():
    table = gamma_table(0.5)
    assert table[0] == 0
    assert table[255] == 255
    assert table[64] == round(255 * (64 / 255) ** 0.5)


def test_classical_cache_key_lists_parameters():
    key = ClassicalTranslator(TranslatorSettings(clahe_clip=1.5)).cache_key()
    assert key['name'] == 'classical'
    assert key['clahe_clip'] == 1.5
    for field in ('gamma_target', 'gamma_min', 'haze_strength', 'haze_threshold',
                  'transmission_min', 'clahe_tiles', 'analysis_downscale'):
        assert field in key
    assert 'classical' in ClassicalTranslator().describe()


@pytest.mark.parametrize('field,value', [('gamma_target', 1.0), ('gamma_target', 0.0),
                                         ('gamma_min', 0.0), ('haze_strength', 1.5),
                                         ('haze_threshold', 1.0), ('transmission_min', 0.0),
                                         ('clahe_clip', -1.0), ('clahe_tiles', 0),
                                         ('analysis_downscale', 0)])
def test_classical_settings_out_of_range_rejected(field, value):
    with pytest.raises(ConfigurationError, match=field):
        dataclasses.replace(TranslatorSettings(), **{field: value})


def test_bench_measures_tiny_frames():
    bench = load_bench_module()
    result = bench.measure_fps(height=72, width=128, frames=3)
    assert result['fps'] > 0
    assert result['goal_ratio'] == pytest.approx(result['fps'] / bench.GOAL_FPS)
    assert result['dehaze_weight'] > 0
    assert result['gamma'] < 1.0
