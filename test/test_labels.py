"""Tests of the Cityscapes label tables, converters, file-name rules and label readers."""

import collections
import pathlib

import numpy as np
import pytest
from PIL import Image

from ttm_ros.core import labels
from ttm_ros.core.errors import ConfigurationError, FrameError

EXPECTED_CLASSES = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
    'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
    'motorcycle', 'bicycle',
)


def test_classes_standard_order():
    assert labels.CITYSCAPES_CLASSES == EXPECTED_CLASSES
    assert labels.CITYSCAPES_COLORS.shape == (19, 3)
    assert tuple(labels.CITYSCAPES_COLORS[0]) == (128, 64, 128)
    assert tuple(labels.CITYSCAPES_COLORS[13]) == (0, 0, 142)
    assert tuple(labels.CITYSCAPES_COLORS[18]) == (119, 11, 32)


def test_label_ids_small_case():
    # unlabeled, road, car / person, building, road
    label_ids = np.array([[0, 7, 26], [24, 11, 7]], dtype=np.uint8)
    expected = np.array([[255, 0, 13], [11, 2, 0]], dtype=np.uint8)
    train_ids = labels.label_ids_to_train_ids(label_ids)
    assert train_ids.dtype == np.uint8
    np.testing.assert_array_equal(train_ids, expected)


def test_label_ids_full_table():
    every_id = np.arange(256, dtype=np.uint8)
    train_ids = labels.label_ids_to_train_ids(every_id)
    for label in labels.CITYSCAPES_LABELS:
        assert train_ids[label.label_id] == label.train_id, label.name
    assert (train_ids[34:] == 255).all()
    assert sorted(set(train_ids.tolist()) - {255}) == list(range(19))


def test_label_ids_wide_dtypes():
    label_ids = np.array([-1, 7, 33, 34, 300, 70000], dtype=np.int64)
    np.testing.assert_array_equal(labels.label_ids_to_train_ids(label_ids), [255, 0, 18, 255, 255, 255])
    with pytest.raises(FrameError):
        labels.label_ids_to_train_ids(np.zeros(3, dtype=np.float32))


def test_color_exact_match_and_alpha():
    rgba = np.zeros((2, 4, 4), dtype=np.uint8)
    rgba[0, 0, :3] = (128, 64, 128)  # road
    rgba[0, 1, :3] = (119, 11, 32)  # bicycle
    rgba[0, 2, :3] = (250, 170, 160)  # parking: not a training class
    rgba[0, 3, :3] = (128, 64, 129)  # one off road
    rgba[1, 0, :3] = (153, 153, 153)  # pole (also polegroup)
    rgba[1, 1, :3] = (255, 255, 255)
    rgba[..., 3] = np.arange(8, dtype=np.uint8).reshape(2, 4) * 30  # arbitrary alpha
    expected = np.array([[0, 18, 255, 255], [5, 255, 255, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(labels.color_to_train_ids(rgba), expected)
    np.testing.assert_array_equal(labels.color_to_train_ids(rgba[..., :3]), expected)


def test_color_round_trip_all_classes():
    mask = np.append(np.arange(19, dtype=np.uint8), [255, 19, 200]).reshape(1, -1)
    colors = labels.train_ids_to_color(mask)
    assert colors.shape == (1, 22, 3)
    assert (colors[0, 19:] == 0).all()
    round_trip = labels.color_to_train_ids(colors)
    np.testing.assert_array_equal(round_trip[0, :19], np.arange(19))
    assert (round_trip[0, 19:] == 255).all()


def test_overlay_blends_labelled_pixels():
    rgb = np.full((2, 2, 3), 100, dtype=np.uint8)
    mask = np.array([[0, 255], [13, 19]], dtype=np.uint8)
    blended = labels.overlay(rgb, mask, alpha=0.5)
    np.testing.assert_array_equal(blended[0, 0], [114, 82, 114])  # (100 + road) / 2
    np.testing.assert_array_equal(blended[1, 0], [50, 50, 121])  # (100 + car) / 2
    np.testing.assert_array_equal(blended[0, 1], rgb[0, 1])
    np.testing.assert_array_equal(blended[1, 1], rgb[1, 1])
    np.testing.assert_array_equal(labels.overlay(rgb, mask, alpha=1.0)[0, 0], [128, 64, 128])


def test_overlay_rejects_bad_input():
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    with pytest.raises(FrameError):
        labels.overlay(rgb, np.zeros((3, 2), dtype=np.uint8))
    with pytest.raises(ValueError):
        labels.overlay(rgb, np.zeros((2, 2), dtype=np.uint8), alpha=1.5)


@pytest.mark.parametrize('name, expected', [
    ('frankfurt_000000_000294_leftImg8bit.png', 'frankfurt_000000_000294'),
    ('a/b/frankfurt_000000_000294_gtFine_labelTrainIds.png', 'frankfurt_000000_000294'),
    ('frankfurt_000000_000294_gtFine_labelIds.png', 'frankfurt_000000_000294'),
    ('frankfurt_000000_000294_gtFine_instanceIds.png', 'frankfurt_000000_000294'),
    ('zurich_000087_000019_gtFine_color.png', 'zurich_000087_000019'),
    ('zurich_000087_000019_gtFine_polygons.json', 'zurich_000087_000019'),
    ('GOPR0122_frame_000234_rgb_anon.png', 'GOPR0122_frame_000234'),
    ('GOPR0122_frame_000234_gt_labelColor.png', 'GOPR0122_frame_000234'),
    ('GOPR0122_frame_000234_gt_labelTrainIds.png', 'GOPR0122_frame_000234'),
    ('GOPR0122_frame_000234_gt_labelIds.png', 'GOPR0122_frame_000234'),
    ('aachen_000000_000019_leftImg8bit_foggy_beta_0.02.png', 'aachen_000000_000019'),
    ('aachen_000000_000019_leftImg8bit_foggy_beta_0.02', 'aachen_000000_000019'),
    ('frame_0001_labelTrainIds.png', 'frame_0001'),
    ('frame_0001.jpg', 'frame_0001'),
    ('my_color.png', 'my_color'),
    ('clip.v2.png', 'clip.v2'),
])
def test_frame_id_cases(name, expected):
    assert labels.frame_id(name) == expected


def test_frame_id_pairs_shared_data(shared_data):
    pairs = (
        ('acdc-mooss-1024x512/images', 'acdc-mooss-1024x512/labels'),
        ('acdc-cactif-fullres/images', 'acdc-cactif-fullres/labels'),
    )
    for image_dir, label_dir in pairs:
        image_ids = sorted(labels.frame_id(p) for p in (shared_data / image_dir).glob('*.png'))
        label_ids = sorted(labels.frame_id(p) for p in (shared_data / label_dir).glob('*.png'))
        assert len(image_ids) == 3
        assert image_ids == label_ids, image_dir
        assert sorted(labels.find_labels(shared_data / label_dir)) == image_ids

    tiny = shared_data / 'cityscapes-mmseg-tiny'
    tiny_ids = {labels.frame_id(p) for p in tiny.glob('*.png')}
    assert tiny_ids == {'frankfurt_000000_000294'}
    full_ids = {labels.frame_id(p) for p in (shared_data / 'cityscapes-espnet-val-fullres').glob('*.png')}
    assert 'frankfurt_000000_000294' in full_ids


def test_find_labels_prefers_train_ids(shared_data):
    found = labels.find_labels(shared_data / 'cityscapes-mmseg-tiny')
    assert list(found) == ['frankfurt_000000_000294']
    assert found['frankfurt_000000_000294'].name == 'frankfurt_000000_000294_gtFine_labelTrainIds.png'


def test_find_labels_duplicates_and_missing(tmp_path):
    for folder in ('a', 'b'):
        (tmp_path / folder).mkdir()
        Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / folder / 'x_gtFine_labelIds.png')
    with pytest.raises(ConfigurationError, match='x_gtFine_labelIds.png'):
        labels.find_labels(tmp_path)
    with pytest.raises(ConfigurationError, match='not found'):
        labels.find_labels(tmp_path / 'missing')


def test_load_label_id_file_matches_train_id_file(shared_data):
    tiny = shared_data / 'cityscapes-mmseg-tiny'
    label_ids = np.asarray(Image.open(tiny / 'frankfurt_000000_000294_gtFine_labelIds.png'))
    reference = labels.load_label(tiny / 'frankfurt_000000_000294_gtFine_labelTrainIds.png')
    mapped = labels.load_label(tiny / 'frankfurt_000000_000294_gtFine_labelIds.png')
    assert mapped.shape == reference.shape == (128, 256)

    # The two files were downscaled separately, so about 0.2 % of boundary pixels
    # disagree; the table itself must match the majority of every labelId.
    agreement = (mapped == reference).mean()
    assert agreement > 0.997
    for label_id in np.unique(label_ids):
        votes = collections.Counter(reference[label_ids == label_id].tolist())
        assert votes.most_common(1)[0][0] == labels.label_ids_to_train_ids(np.uint8(label_id)), label_id

    # Each disagreement lies on a class boundary: the reference value occurs among
    # the mapped pixel's 3x3 neighbours.
    rows, columns = np.nonzero(mapped != reference)
    on_boundary = [reference[y, x] in mapped[max(0, y - 1):y + 2, max(0, x - 1):x + 2]
                   for y, x in zip(rows, columns)]
    assert np.mean(on_boundary) > 0.95


def test_load_label_train_ids_clamped(shared_data):
    path = shared_data / 'acdc-mooss-1024x512' / 'labels' / 'GOPR0122_frame_000234_gtFine_labelTrainIds.png'
    raw = np.asarray(Image.open(path))
    mask = labels.load_label(path)
    assert ((raw > 18) & (raw < 255)).any()
    assert set(np.unique(mask).tolist()) <= set(range(19)) | {255}
    np.testing.assert_array_equal(mask[raw <= 18], raw[raw <= 18])


@pytest.mark.parametrize('frame', ['GOPR0122_frame_000234', 'GP010376_frame_000129', 'zurich_000087_000019'])
def test_load_label_colour_files(shared_data, frame):
    color_path = labels.find_labels(shared_data / 'acdc-cactif-fullres' / 'labels')[frame]
    mask = labels.load_label(color_path)
    values = set(np.unique(mask).tolist())
    assert values <= set(range(19)) | {255}
    assert len(values - {255}) >= 5

    # Compare with the 1024x512 trainId labels of the same frame, where ACDC frames are
    # centre-cropped to rows 60..1019. Those labels were resized with interpolation, so
    # only most jointly valid pixels agree.
    reference = labels.load_label(labels.find_labels(shared_data / 'acdc-mooss-1024x512' / 'labels')[frame])
    if mask.shape == (1080, 1920):
        mask = mask[60:1020]
    small = np.asarray(Image.fromarray(mask).resize((1024, 512), Image.Resampling.NEAREST))
    valid = (small != 255) & (reference != 255)
    assert valid.mean() > 0.5
    assert (small[valid] == reference[valid]).mean() > 0.95


def test_load_label_forced_kind_and_errors(tmp_path):
    ids = np.array([[7, 26], [0, 33]], dtype=np.uint8)
    path = tmp_path / 'frame.png'
    Image.fromarray(ids).save(path)
    np.testing.assert_array_equal(labels.load_label(path), [[7, 255], [0, 255]])
    np.testing.assert_array_equal(labels.load_label(path, kind='labelIds'), [[0, 13], [255, 18]])
    with pytest.raises(FrameError, match='one channel'):
        labels.load_label(path, kind='color')
    with pytest.raises(ConfigurationError, match='not found'):
        labels.load_label(tmp_path / 'missing.png')
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(FrameError, match='broken.png'):
        labels.load_label(tmp_path / 'broken.png')


def test_load_label_sixteen_bit(tmp_path):
    ids = np.array([[3, 18, 19, 1000]], dtype=np.uint16)
    path = pathlib.Path(tmp_path) / 'wide_gtFine_labelTrainIds.png'
    Image.fromarray(ids).save(path)
    np.testing.assert_array_equal(labels.load_label(path), [[3, 18, 255, 255]])


def test_resolve_class_names():
    assert labels.resolve_class_names('Cityscapes') == EXPECTED_CLASSES
    assert labels.resolve_class_names(['a', 'b']) == ('a', 'b')
    with pytest.raises(ConfigurationError):
        labels.resolve_class_names('ade20k')
