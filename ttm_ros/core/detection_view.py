"""Drawings of detections: boxes with labels, and the in-vehicle composite view.

Boxes are corners in pixels of the frame they are drawn on. Colours are fixed per
label (a hash of the name), so a class keeps its colour across frames and nodes.
"""

from __future__ import annotations

import zlib
from typing import Optional, Sequence

import cv2
import numpy as np

from ttm_ros.core.detectors.base import Detection


def label_color(label: str) -> tuple:
    """Return a stable, saturated RGB colour for a label."""
    hue = zlib.crc32(label.encode('utf-8')) % 180
    hsv = np.array([[[hue, 220, 255]]], dtype=np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_detections(rgb: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """Return a copy of the RGB frame with each box and 'label score' drawn on it."""
    image = np.ascontiguousarray(rgb).copy()
    thickness = max(1, round(min(image.shape[:2]) / 300))
    scale = max(0.35, min(image.shape[:2]) / 900)
    for detection in detections:
        color = label_color(detection.label)
        x0, y0, x1, y1 = (int(round(v)) for v in detection.box)
        cv2.rectangle(image, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), color, thickness)
        text = f'{detection.label} {detection.score:.2f}'
        (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(0, y0 - height - baseline)
        cv2.rectangle(image, (x0, top), (x0 + width, top + height + baseline), color, -1)
        cv2.putText(image, text, (x0, top + height), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return image


def composite_view(tiles: Sequence[Optional[np.ndarray]], titles: Sequence[str],
                   status_lines: Sequence[str], tile_width: int = 640) -> np.ndarray:
    """Return a 2 x 2 grid of RGB tiles with a title each and status lines at the top.

    Every tile is resized to `tile_width` and the first tile's aspect ratio; a missing
    tile (None) is black. The grid reads left to right, top to bottom.
    """
    reference = next((tile for tile in tiles if tile is not None), None)
    aspect = reference.shape[0] / reference.shape[1] if reference is not None else 0.5
    tile_height = max(1, int(round(tile_width * aspect)))
    cells = []
    for tile, title in zip(tiles, titles):
        cell = (np.zeros((tile_height, tile_width, 3), np.uint8) if tile is None
                else cv2.resize(tile, (tile_width, tile_height), interpolation=cv2.INTER_AREA))
        _put_text(cell, title, 0)
        cells.append(cell)
    while len(cells) < 4:
        cells.append(np.zeros((tile_height, tile_width, 3), np.uint8))
    grid = np.vstack([np.hstack(cells[0:2]), np.hstack(cells[2:4])])
    for index, line in enumerate(status_lines):
        _put_text(grid, line, index + 1, x=tile_width // 2)
    return grid


def _put_text(image: np.ndarray, text: str, row: int, x: int = 4) -> None:
    y = 18 + 20 * row
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
