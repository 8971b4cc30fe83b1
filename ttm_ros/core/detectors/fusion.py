"""Box-level fusion of the detections of the original and the translated frame.

Two methods, both per label and on corner boxes in input pixels:
- `wbf`, weighted box fusion (Solovyev et al., "Weighted boxes fusion", 2021): boxes
  are taken by descending score; a box joins the cluster of its label whose fused box
  overlaps it most with IoU above `iou_threshold`, else it starts a cluster. A fused box
  is the score-weighted mean of its members' corners; its score is the mean member
  score times min(members, sources) / sources, so an object found in only one of the
  two frames keeps half its score;
- `nms`, score-aware NMS: both lists together, greedy NMS per label; the higher-scoring
  box of two overlapping ones survives unchanged.
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

from ttm_ros.core.detectors.base import Detection
from ttm_ros.core.detectors.boxes import batched_nms, iou_matrix

FUSION_METHODS = ('none', 'wbf', 'nms')


def fuse_detections(sources: Sequence[Sequence[Detection]], method: str, iou_threshold: float,
                    max_detections: int) -> List[Detection]:
    """Fuse the detection lists of several frames; return at most `max_detections`, best first."""
    if method not in FUSION_METHODS:
        raise ValueError(f'fusion method {method!r} is invalid; use one of {", ".join(FUSION_METHODS)}')
    if method == 'none':
        fused = list(sources[-1])
    elif method == 'nms':
        fused = _nms_fusion([d for source in sources for d in source], iou_threshold)
    else:
        fused = _weighted_box_fusion(sources, iou_threshold)
    fused.sort(key=lambda detection: -detection.score)
    return fused[:max_detections]


def _nms_fusion(detections: List[Detection], iou_threshold: float) -> List[Detection]:
    if not detections:
        return []
    labels = sorted({d.label for d in detections})
    keep = batched_nms([d.box for d in detections], [d.score for d in detections],
                       [labels.index(d.label) for d in detections], iou_threshold)
    return [detections[i] for i in keep]


def _weighted_box_fusion(sources: Sequence[Sequence[Detection]], iou_threshold: float) -> List[Detection]:
    ordered = sorted((d for source in sources for d in source), key=lambda d: -d.score)
    clusters: List[List[Detection]] = []
    fused_boxes: List[np.ndarray] = []
    for detection in ordered:
        candidates = [i for i, cluster in enumerate(clusters) if cluster[0].label == detection.label]
        best, best_iou = -1, iou_threshold
        if candidates:
            overlaps = iou_matrix(detection.box, [fused_boxes[i] for i in candidates])[0]
            index = int(np.argmax(overlaps))
            if overlaps[index] > best_iou:
                best = candidates[index]
        if best < 0:
            clusters.append([detection])
            fused_boxes.append(np.asarray(detection.box, dtype=np.float64))
        else:
            clusters[best].append(detection)
            fused_boxes[best] = _weighted_mean_box(clusters[best])
    count = max(len(sources), 1)
    return [Detection(tuple(float(v) for v in box),
                      float(np.mean([d.score for d in cluster]) * min(len(cluster), count) / count),
                      cluster[0].label)
            for cluster, box in zip(clusters, fused_boxes)]


def _weighted_mean_box(cluster: Sequence[Detection]) -> np.ndarray:
    scores = np.asarray([d.score for d in cluster], dtype=np.float64)
    boxes = np.asarray([d.box for d in cluster], dtype=np.float64)
    return (boxes * scores[:, None]).sum(axis=0) / max(scores.sum(), 1e-12)
