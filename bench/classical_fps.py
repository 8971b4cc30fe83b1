"""Frames per second of the classical translator on one CPU core.

Usage: python bench/classical_fps.py [--height 720] [--width 1280] [--frames 300]
       [--image PATH]

OpenCV is limited to one thread (cv2.setNumThreads(1)); numpy's element-wise
operations are single-threaded anyway. The default frame is synthetic fog over a dark
textured scene, so dehazing and gamma correction both run; `--image` uses a real frame
resized to the requested size instead. Two configurations are timed: the default
settings, and the defaults with CLAHE (clip 2.0). Each line prints frames/s and the
ratio to the 60 frames/s goal.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Dict, Optional

import cv2
import numpy as np

from ttm_ros.core.translators.base import TranslatorSettings
from ttm_ros.core.translators.classical import ClassicalTranslator

GOAL_FPS = 60.0


def synthetic_foggy_frame(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Return a dark textured scene under fog of transmission 0.45 and light 0.85, with
    the top eighth fully fogged like a sky."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.0, 0.2, (max(2, height // 24), max(2, width // 24), 3))
    scene = cv2.resize(coarse.astype(np.float32), (width, height),
                       interpolation=cv2.INTER_NEAREST)
    scene += rng.normal(0.0, 0.03, scene.shape).astype(np.float32)
    transmission = np.full((height, width, 1), 0.45, np.float32)
    transmission[:height // 8] = 0.0
    foggy = transmission * scene + 0.85 * (1.0 - transmission)
    return np.clip(np.rint(foggy * 255.0), 0, 255).astype(np.uint8)


def measure_fps(height: int = 720, width: int = 1280, frames: int = 300,
                settings: Optional[TranslatorSettings] = None,
                frame: Optional[np.ndarray] = None) -> Dict[str, float]:
    """Translate `frames` frames of `height` x `width` on one OpenCV thread.

    Returns frames/s, the ratio to `GOAL_FPS`, and the dehaze weight and gamma the
    translator chose (to show which steps ran).
    """
    if frame is None:
        frame = synthetic_foggy_frame(height, width)
    else:
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    previous_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        translator = ClassicalTranslator(settings or TranslatorSettings())
        translator.translate(frame)  # warm-up: allocates the reusable buffers
        start = time.perf_counter()
        for _ in range(frames):
            translator.translate(frame)
        elapsed = time.perf_counter() - start
    finally:
        cv2.setNumThreads(previous_threads)
    fps = frames / elapsed
    estimate = translator.last_estimate
    return {'fps': fps, 'goal_ratio': fps / GOAL_FPS, 'milliseconds': 1000.0 / fps,
            'dehaze_weight': estimate.dehaze_weight, 'gamma': estimate.gamma}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--height', type=int, default=720, help='frame height in pixels')
    parser.add_argument('--width', type=int, default=1280, help='frame width in pixels')
    parser.add_argument('--frames', type=int, default=300, help='frames timed per configuration')
    parser.add_argument('--image', help='real frame to time instead of the synthetic fog')
    arguments = parser.parse_args()

    frame = None
    if arguments.image:
        bgr = cv2.imread(arguments.image, cv2.IMREAD_COLOR)
        if bgr is None:
            parser.error(f'cannot read the image {arguments.image}')
        frame = np.ascontiguousarray(bgr[..., ::-1])

    defaults = TranslatorSettings()
    configurations = {'defaults': defaults,
                      'defaults + CLAHE 2.0': dataclasses.replace(defaults, clahe_clip=2.0)}
    for label, settings in configurations.items():
        result = measure_fps(arguments.height, arguments.width, arguments.frames, settings, frame)
        print(f'{label}: {result["fps"]:.1f} frames/s ({result["milliseconds"]:.2f} ms) at '
              f'{arguments.width}x{arguments.height} on one core, {result["goal_ratio"]:.2f}x '
              f'the {GOAL_FPS:g} frames/s goal (dehaze weight {result["dehaze_weight"]:.2f}, '
              f'gamma {result["gamma"]:.2f})')


if __name__ == '__main__':
    main()
