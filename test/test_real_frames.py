"""The pipeline on the real frames with the real int8 Cityscapes segmenter (ONNX)."""

import cv2
import numpy as np
import pytest

from ttm_ros.core.labels import load_label
from ttm_ros.core.metrics import ConfusionAccumulator
from ttm_ros.core.parameters import settings_from_values
from ttm_ros.core.pipeline import build_pipeline

FRAMES = ['GOPR0122_frame_000234_rgb_anon', 'GP010376_frame_000129_rgb_anon',
          'zurich_000087_000019_leftImg8bit']


@pytest.fixture(scope='module')
def real_frames(shared_data):
    folder = shared_data / 'acdc-mooss-1024x512'
    frames = []
    for name in FRAMES:
        rgb = cv2.cvtColor(cv2.imread(str(folder / 'images' / f'{name}.png')), cv2.COLOR_BGR2RGB)
        frame_id = name.rsplit('_', 2)[0] if name.endswith('rgb_anon') else name.rsplit('_', 1)[0]
        label = load_label(next((folder / 'labels').glob(f'{frame_id}_*')))
        frames.append((frame_id, rgb, label))
    return frames


def pipeline_for(shared_data, monkeypatch, translator):
    monkeypatch.setenv('TTM_ROS_DATA', str(shared_data))
    return build_pipeline(settings_from_values({
        'translator.name': translator, 'segmenter.config': 'deeplab_edgetpu_cityscapes'}))


def test_identity_fused_equals_base(shared_data, monkeypatch, real_frames):
    pipeline = pipeline_for(shared_data, monkeypatch, 'identity')
    for frame_id, rgb, _ in real_frames:
        result = pipeline.process(rgb)
        assert np.array_equal(result.mask_fused, result.mask_base), frame_id
        assert result.fallback_reason is None


def test_base_miou_on_clear_frames(shared_data, monkeypatch, real_frames):
    """A sanity bound that a preprocessing error (channel order, scaling) would break."""
    pipeline = pipeline_for(shared_data, monkeypatch, 'identity')
    _, rgb, label = next(f for f in real_frames if f[0].startswith('zurich'))
    scores = ConfusionAccumulator()
    scores.update(pipeline.process(rgb).mask_base, label)
    assert scores.scores().miou > 0.40

    tiny = shared_data / 'cityscapes-mmseg-tiny'
    rgb = cv2.cvtColor(cv2.imread(str(tiny / 'frankfurt_000000_000294_leftImg8bit.png')), cv2.COLOR_BGR2RGB)
    label = load_label(tiny / 'frankfurt_000000_000294_gtFine_labelTrainIds.png')
    scores = ConfusionAccumulator()
    scores.update(pipeline.process(rgb).mask_base, label)
    assert scores.scores().miou > 0.40


def test_classical_scores_reported(shared_data, monkeypatch, real_frames, capsys):
    """The classical translator's numbers are reported as they come, not asserted."""
    pipeline = pipeline_for(shared_data, monkeypatch, 'classical')
    totals = {mode: ConfusionAccumulator() for mode in ('base', 'ttm', 'fused')}
    for _, rgb, label in real_frames:
        result = pipeline.process(rgb)
        assert result.translated.shape == rgb.shape
        totals['base'].update(result.mask_base, label)
        totals['ttm'].update(result.mask_translated, label)
        totals['fused'].update(result.mask_fused, label)
    with capsys.disabled():
        print('\nclassical on acdc-mooss-1024x512 (mIoU / pixel accuracy): ' + ', '.join(
            f'{mode} {t.scores().miou:.4f} / {t.scores().pixel_accuracy:.4f}'
            for mode, t in totals.items()))
