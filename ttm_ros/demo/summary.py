"""Scores and `summary.json` of a demo run, computed from the saved mask PNGs.

Every number in the summary is recomputed from the files in the output folder, so
the summary and the masks cannot disagree. Modes: `base` (segmentation of the original
frame), `ttm` (of the translated frame) and `fused` (of the fused probabilities).
"""

from __future__ import annotations

import pathlib
from typing import Dict, List, Mapping, Optional

import cv2
import numpy as np

from ttm_ros.core import labels
from ttm_ros.core.metrics import ConfusionAccumulator, SegmentationScores

MODES = {'base': 'base_mask', 'ttm': 'ttm_mask', 'fused': 'fused_mask'}

#: Topic (relative to the node namespace) -> output file suffix.
IMAGE_OUTPUTS = {
    'pseudo_source/image_raw': 'pseudo_source',
    'segmentation/mask': 'fused_mask',
    'segmentation/mask/base': 'base_mask',
    'segmentation/mask/translated': 'ttm_mask',
    'segmentation/overlay': 'overlay',
}


def mask_path(out_dir: pathlib.Path, frame: str, mode: str) -> pathlib.Path:
    """Return the file of the `mode` mask of `frame` (`<frame>_<mode>_mask.png`)."""
    return out_dir / f'{frame}_{MODES[mode]}.png'


def read_mask(path: pathlib.Path) -> np.ndarray:
    """Return a mono8 mask PNG as a uint8 (H, W) array."""
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.ndim != 2:
        raise ValueError(f'{path} is not a single-channel mask PNG')
    return mask


def score_frames(out_dir: pathlib.Path, frames: List[str],
                 label_paths: Mapping[str, pathlib.Path]) -> Dict[str, object]:
    """Return per-frame and overall scores of every mode for the frames that have labels.

    A label whose size differs from the frame is resized with nearest-neighbour
    interpolation to the mask size, and that is recorded in the frame's entry.
    """
    totals = {mode: ConfusionAccumulator() for mode in MODES}
    per_frame: Dict[str, dict] = {}
    for frame in frames:
        if frame not in label_paths:
            continue
        label = labels.load_label(label_paths[frame])
        entry: Dict[str, object] = {'label': str(label_paths[frame])}
        for mode in MODES:
            path = mask_path(out_dir, frame, mode)
            if not path.is_file():
                entry[mode] = None
                continue
            prediction = read_mask(path)
            if label.shape != prediction.shape:
                entry['label_resized_from'] = [label.shape[1], label.shape[0]]
                label = cv2.resize(label, (prediction.shape[1], prediction.shape[0]),
                                   interpolation=cv2.INTER_NEAREST)
            frame_matrix = totals[mode].update(prediction, label)
            entry[mode] = _short_scores(SegmentationScores.from_matrix(frame_matrix))
        per_frame[frame] = entry
    overall = {mode: totals[mode].scores().as_dict(labels.CITYSCAPES_CLASSES)
               for mode in MODES if totals[mode].frames}
    return {'per_frame': per_frame, 'overall': overall}


def latency_summary(timings: List[Mapping[str, float]]) -> Dict[str, Dict[str, float]]:
    """Return {stage: {'mean_ms', 'p95_ms', 'max_ms'}} over the frames' stage timings."""
    stages = sorted({stage for frame in timings for stage in frame})
    result = {}
    for stage in stages:
        values = np.array([frame[stage] for frame in timings if stage in frame])
        result[stage] = {'mean_ms': float(values.mean()), 'p95_ms': float(np.percentile(values, 95)),
                         'max_ms': float(values.max())}
    return result


def _short_scores(scores: SegmentationScores) -> Dict[str, Optional[float]]:
    return {'miou': scores.miou, 'pixel_accuracy': scores.pixel_accuracy,
            'valid_pixels': scores.valid_pixels}
