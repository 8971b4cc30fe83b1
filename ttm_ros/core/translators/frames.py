"""Input validation shared by every built-in translator."""

from __future__ import annotations

import numpy as np

from ttm_ros.core.errors import FrameError


def validate_rgb_frame(rgb: np.ndarray) -> None:
    """Raise FrameError unless `rgb` is a non-empty uint8 array of shape (H, W, 3)."""
    if not isinstance(rgb, np.ndarray):
        raise FrameError(f'translator input is a {type(rgb).__name__}; pass a numpy uint8 '
                         'array of shape (H, W, 3)')
    if rgb.dtype != np.uint8:
        raise FrameError(f'translator input has dtype {rgb.dtype}; convert the frame to uint8 '
                         'RGB first')
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise FrameError(f'translator input has shape {rgb.shape}; expected (H, W, 3) RGB')
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise FrameError(f'translator input has shape {rgb.shape}, an empty frame; check the '
                         'camera encoding and resolution')
