"""Tests of the resize contract between frames and an editor's working image."""

import math

import numpy as np
import pytest

from ttm_ros.core.errors import FrameError
from ttm_ros.core.sizing import from_working, pick_working_size, to_working

ONE_MEGAPIXEL = 1024 * 1024

FRAME_SIZES = [(1080, 1920), (1024, 2048), (375, 1242), (75, 100), (129, 67), (101, 77),
               (720, 1280), (33, 33), (60, 400)]


@pytest.mark.parametrize('height,width', FRAME_SIZES)
@pytest.mark.parametrize('max_pixels', [ONE_MEGAPIXEL, 256 * 256])
def test_working_size_rules(height, width, max_pixels):
    working_height, working_width = pick_working_size(height, width, max_pixels)
    assert working_height % 16 == 0
    assert working_width % 16 == 0
    assert working_height >= 64
    assert working_width >= 64
    assert working_height * working_width <= max_pixels
    # The aspect ratio is off by less than one 16 px block on the shorter working side,
    # unless the 64 px minimum forced that side up.
    aspect_error = abs(math.log((working_width / working_height) / (width / height)))
    assert aspect_error < math.log(1 + 16 / min(working_height, working_width))


@pytest.mark.parametrize('height,width,expected', [
    ((1080, 1920, (768, 1360))),
    ((1024, 2048, (720, 1440))),
    ((720, 1280, (720, 1280))),
    ((375, 1242, (368, 1216))),
    ((75, 100, (80, 112))),
    ((40, 40, (64, 64))),
])
def test_working_size_known_frames(height, width, expected):
    assert pick_working_size(height, width, ONE_MEGAPIXEL) == expected


def test_working_size_keeps_area_near_budget():
    working_height, working_width = pick_working_size(1080, 1920, ONE_MEGAPIXEL)
    assert working_height * working_width > 0.97 * ONE_MEGAPIXEL


def test_working_size_other_multiple():
    assert pick_working_size(480, 640, ONE_MEGAPIXEL, multiple=32, min_side=32) == (480, 640)
    working_height, working_width = pick_working_size(500, 700, 200_000, multiple=32)
    assert working_height % 32 == 0
    assert working_width % 32 == 0


@pytest.mark.parametrize('height,width', [(0, 100), (100, 0), (0, 0)])
def test_empty_frame_rejected(height, width):
    with pytest.raises(FrameError, match='empty'):
        pick_working_size(height, width, ONE_MEGAPIXEL)


@pytest.mark.parametrize('height,width', [(1, 1), (4, 640), (7, 7)])
def test_tiny_frame_rejected(height, width):
    with pytest.raises(FrameError) as error:
        pick_working_size(height, width, ONE_MEGAPIXEL)
    message = str(error.value)
    assert f'{width}x{height}' in message
    assert 'too small' in message or 'aspect ratio' in message


@pytest.mark.parametrize('height,width', [(100, 900), (2000, 200), (64, 4096)])
def test_extreme_aspect_rejected(height, width):
    with pytest.raises(FrameError, match='aspect ratio') as error:
        pick_working_size(height, width, ONE_MEGAPIXEL)
    assert f'{width}x{height}' in str(error.value)


def test_frame_that_cannot_fit_rejected():
    with pytest.raises(FrameError, match='raise max_pixels to at least 32768'):
        pick_working_size(100, 800, 20_000)


def test_aspect_limit_is_inclusive():
    assert pick_working_size(64, 512, ONE_MEGAPIXEL) == (64, 512)


@pytest.mark.parametrize('height,width', FRAME_SIZES + [(1, 1), (2, 3)])
def test_round_trip_output_exactly_input_size(height, width):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    working = to_working(frame, (64, 96))
    assert working.shape == (64, 96, 3)
    assert working.dtype == np.uint8
    restored = from_working(working, height, width)
    assert restored.shape == (height, width, 3)
    assert restored.dtype == np.uint8


def test_resize_keeps_single_channel_axis():
    frame = np.zeros((50, 70, 1), np.uint8)
    assert to_working(frame, (32, 48)).shape == (32, 48, 1)
    assert to_working(frame[..., 0], (32, 48)).shape == (32, 48)


def test_resize_same_size_is_unchanged():
    frame = np.arange(64 * 80 * 3, dtype=np.uint32).astype(np.uint8).reshape(64, 80, 3)
    assert to_working(frame, (64, 80)) is frame


def test_resize_rejects_empty_image():
    with pytest.raises(FrameError, match='shape'):
        to_working(np.zeros((0, 5, 3), np.uint8), (64, 64))


def _line_offsets(height, width, max_pixels):
    """Return the largest distance between a one-pixel line and its brightest restored
    row (horizontal lines) or column (vertical lines)."""
    size = pick_working_size(height, width, max_pixels)
    row_offsets, column_offsets = [], []
    for row in sorted({0, 1, height // 3, height // 2 + 1, height - 2, height - 1}):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[row, :] = 255
        restored = from_working(to_working(frame, size), height, width)
        profile = restored[..., 1].astype(np.float64).mean(axis=1)
        row_offsets.append(abs(int(profile.argmax()) - row))
    for column in sorted({0, 1, width // 3, width // 2 + 1, width - 2, width - 1}):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, column] = 255
        restored = from_working(to_working(frame, size), height, width)
        profile = restored[..., 1].astype(np.float64).mean(axis=0)
        column_offsets.append(abs(int(profile.argmax()) - column))
    return size, max(row_offsets), max(column_offsets)


@pytest.mark.parametrize('height,width', [(1080, 1920), (1024, 2048), (375, 1242),
                                          (75, 100), (129, 67), (101, 77)])
def test_one_pixel_line_stays_in_place(height, width):
    _, row_offset, column_offset = _line_offsets(height, width, ONE_MEGAPIXEL)
    assert row_offset == 0
    assert column_offset == 0


@pytest.mark.parametrize('height,width', [(1080, 1920), (1024, 2048), (375, 1242)])
def test_one_pixel_line_within_one_working_pixel(height, width):
    # At a strong reduction (about 5.6x for 1920x1080) the line is smeared over
    # several frame pixels; its peak still stays within one working pixel.
    (working_height, working_width), row_offset, column_offset = _line_offsets(
        height, width, 256 * 256)
    assert row_offset <= math.ceil(height / working_height)
    assert column_offset <= math.ceil(width / working_width)
