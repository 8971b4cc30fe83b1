"""The resize contract between camera frames and an editor's working image.

An editing model works on images whose sides are multiples of a block size (16 px for
the FLUX and Qwen-Image VAEs with their 2x2 latent patches) and whose area stays below
a budget. The frame is resized to such a working size, edited, and resized back to
exactly its own height and width. Both steps scale each axis independently and never
crop. The centre of frame pixel (y, x) therefore maps to working coordinates
((y + 0.5) h' / H - 0.5, (x + 0.5) w' / W - 0.5), and a one-pixel line stays at its row
or column after the round trip. The working aspect ratio may differ slightly from the frame's (by at most one
block per side), which stretches the content by that amount while it is edited.
"""

from __future__ import annotations

import math
from typing import List, Set, Tuple

import cv2
import numpy as np

from ttm_ros.core.errors import FrameError

Size = Tuple[int, int]


def pick_working_size(height: int, width: int, max_pixels: int, multiple: int = 16,
                      min_side: int = 64, max_aspect: float = 8.0,
                      max_upscale: float = 8.0) -> Size:
    """Return the working (height, width) for a `height` x `width` frame.

    Rules, in order of precedence:
    1. both sides are multiples of `multiple` and at least `min_side` (rounded up to a
       multiple);
    2. height * width <= `max_pixels`;
    3. the aspect ratio is as close as possible to the frame's (compared on a log
       scale). The choice is among sizes whose sides are floor or ceiling multiples
       of the frame scaled to the area min(frame area, `max_pixels`), or of the
       other side times the aspect ratio. A tie goes to the area closest to that
       scaled area.

    Small frames are enlarged only as far as rule 1 needs, and at most `max_upscale`
    times per side.

    Raises:
        FrameError: the frame has a zero side, its aspect ratio (long side / short
            side) exceeds `max_aspect`, it needs more than `max_upscale` enlargement,
            or no size satisfies rules 1 and 2 (raise `max_pixels`).
    """
    _validate_frame_size(height, width, max_aspect)
    min_side_rounded = _round_up(min_side, multiple)
    scale = min(1.0, math.sqrt(max_pixels / (height * width)))
    needed_upscale = min_side_rounded / min(height, width)
    if needed_upscale > max_upscale:
        raise FrameError(
            f'frame {width}x{height} is too small: the editor needs sides of at least '
            f'{min_side_rounded} px, an enlargement of {needed_upscale:.1f}x (max '
            f'{max_upscale:g}x); send frames with a short side of at least '
            f'{math.ceil(min_side_rounded / max_upscale)} px')

    candidates = _candidate_sizes(height * scale, width * scale, multiple, min_side_rounded)
    candidates = [size for size in candidates if size[0] * size[1] <= max_pixels]
    if not candidates:
        raise FrameError(
            f'frame {width}x{height} does not fit in max_pixels={max_pixels} with sides of '
            f'at least {min_side_rounded} px in multiples of {multiple}; raise max_pixels '
            f'to at least {_smallest_area(height, width, multiple, min_side_rounded)}')

    log_aspect = math.log(width / height)
    log_area = math.log(height * width * scale * scale)
    return min(candidates, key=lambda size: (
        round(abs(math.log(size[1] / size[0]) - log_aspect), 9),
        abs(math.log(size[0] * size[1]) - log_area)))


def to_working(rgb: np.ndarray, size: Size) -> np.ndarray:
    """Resize `rgb` (H x W or H x W x C) to the working `size` (height, width).

    Shrinking uses area averaging (no aliasing); enlarging uses bicubic
    interpolation. A frame that already has the size is returned unchanged.
    """
    return _resize(rgb, size[0], size[1])


def from_working(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an edited working image back to exactly `height` x `width`."""
    return _resize(rgb, height, width)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise FrameError(f'cannot resize an image of shape {image.shape}; expected H x W '
                         'or H x W x C with non-zero sides')
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(np.ascontiguousarray(image), (width, height),
                         interpolation=interpolation)
    # cv2 drops a trailing channel axis of size 1.
    return resized.reshape((height, width) + image.shape[2:])


def _validate_frame_size(height: int, width: int, max_aspect: float) -> None:
    if height <= 0 or width <= 0:
        raise FrameError(f'frame size {width}x{height} is empty; the camera sent no pixels, '
                         'check its encoding and resolution')
    aspect = max(height, width) / min(height, width)
    if aspect > max_aspect:
        raise FrameError(
            f'frame {width}x{height} has aspect ratio {aspect:.2f}, above the editor limit '
            f'{max_aspect:g}; crop or pad the frame to at most {max_aspect:g}:1 first')


def _round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple)) * multiple


def _candidate_sizes(ideal_height: float, ideal_width: float, multiple: int,
                     minimum: int) -> Set[Size]:
    """Return sizes near the ideal one: each side near its ideal value, the other side
    near the value that keeps the aspect ratio for it."""
    aspect = ideal_width / ideal_height
    sizes = set()
    for height in _nearby_multiples(ideal_height, multiple, minimum):
        sizes.update((height, width)
                     for width in _nearby_multiples(height * aspect, multiple, minimum))
    for width in _nearby_multiples(ideal_width, multiple, minimum):
        sizes.update((height, width)
                     for height in _nearby_multiples(width / aspect, multiple, minimum))
    return sizes


def _nearby_multiples(ideal: float, multiple: int, minimum: int) -> List[int]:
    """Return the floor and ceiling multiples of `multiple` around `ideal` that are at
    least `minimum` (or `minimum` when neither is)."""
    options = {int(ideal // multiple) * multiple, _round_up(ideal, multiple)}
    kept = sorted(value for value in options if value >= minimum)
    return kept or [minimum]


def _smallest_area(height: int, width: int, multiple: int, min_side: int) -> int:
    if height <= width:
        return min_side * _round_up(min_side * width / height, multiple)
    return _round_up(min_side * height / width, multiple) * min_side
