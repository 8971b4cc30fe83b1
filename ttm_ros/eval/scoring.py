"""Scores of an evaluation, computed only from the files an offline or live run saved.

Definitions (also written into metrics.json):
- segmentation: a confusion matrix summed over all frames with labels, trainIds
  0..18; label pixels of 255 are ignored; a prediction of 255 (or any id outside
  0..18) on a labelled pixel is a miss. IoU_c = TP / (TP + FP + FN); mIoU = mean IoU
  over the classes present in the labels; pixel accuracy = correct labelled pixels /
  labelled pixels (`ttm_ros.core.metrics`);
- classification: top-1 accuracy over the ImageNet-R class subset, the argmax of the
  200 ImageNet-R logits among the 1000 ImageNet-1k outputs compared with the image's
  class;
- detection: mAP@50, COCO-style average precision at IoU 0.5 per class (pycocotools,
  101-point interpolation), averaged over the classes with ground-truth boxes.

Frames with attributes (an ACDC condition, BDD100K weather, scene and timeofday) are
also scored per `<attribute>=<value>` group, under `groups` of each model.
"""

from __future__ import annotations

import json
import pathlib
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from ttm_ros.core import labels
from ttm_ros.core.metrics import ConfusionAccumulator
from ttm_ros.eval.datasets import Dataset
from ttm_ros.eval.runner import mask_path, prediction_path

DEFINITIONS = {
    'miou': 'mean over the classes present in the labels of IoU_c = TP / (TP + FP + FN), from one '
            'confusion matrix summed over all frames; trainIds 0..18, label 255 ignored, a predicted '
            '255 on a labelled pixel counts as a miss (FN) of the labelled class',
    'iou': 'per-class IoU_c = TP / (TP + FP + FN) over all frames; null for a class absent from '
           'labels and predictions',
    'pixel_accuracy': 'correctly classified labelled pixels / labelled pixels (label 255 excluded)',
    'top1_imagenet_r': 'fraction of images whose argmax over the 200 ImageNet-R classes (the ImageNet-1k '
                       'logits restricted to that subset) equals the image class',
    'map50': 'mean over the classes with ground-truth boxes of COCO average precision at IoU 0.5 '
             '(pycocotools COCOeval, iouThrs=[0.5], 101-point interpolation, area all, maxDets 100)',
    'columns': 'base: model on the original frame; <translator>-ttm: model on the translated frame; '
               '<translator>-fused: argmax of w p(original) + (1 - w) p(translated), w = fusion weight',
}


def read_mask(path: pathlib.Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.ndim != 2:
        raise ValueError(f'{path} is missing or not a single-channel mask PNG')
    return mask


def score_segmentation(dataset: Dataset, out: pathlib.Path, models: Sequence[str],
                       columns: Sequence[str], frames: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    """Return {model: {column: scores}} (and per-attribute groups) from the saved masks."""
    wanted = set(frames) if frames is not None else None
    results: Dict[str, dict] = {}
    for model in models:
        totals = {column: ConfusionAccumulator() for column in columns}
        groups: Dict[str, Dict[str, ConfusionAccumulator]] = {}
        for sample in dataset.samples:
            if wanted is not None and sample.frame_id not in wanted:
                continue
            label = sample.load_label()
            for column in columns:
                prediction = read_mask(mask_path(out, model, column, sample.frame_id))
                if label.shape != prediction.shape:
                    label = cv2.resize(label, prediction.shape[::-1], interpolation=cv2.INTER_NEAREST)
                frame_matrix = totals[column].update(prediction, label)
                for key, value in sample.attributes.items():
                    group = groups.setdefault(f'{key}={value}', {c: ConfusionAccumulator() for c in columns})
                    group[column].matrix += frame_matrix
                    group[column].frames += 1
        results[model] = {column: _segmentation_dict(accumulator) for column, accumulator in totals.items()}
        if groups:
            results[model]['groups'] = {name: {column: _segmentation_dict(accumulator)
                                               for column, accumulator in group.items()}
                                        for name, group in sorted(groups.items())}
    return results


def _segmentation_dict(accumulator: ConfusionAccumulator) -> dict:
    scores = accumulator.scores().as_dict(labels.CITYSCAPES_CLASSES)
    scores['frames'] = accumulator.frames
    scores['iou'] = {name: (None if np.isnan(value) else value) for name, value in scores['iou'].items()}
    for key in ('miou', 'miou_defined', 'pixel_accuracy'):
        if isinstance(scores[key], float) and np.isnan(scores[key]):
            scores[key] = None
    return scores


def score_classification(dataset: Dataset, out: pathlib.Path, models: Sequence[str],
                         columns: Sequence[str]) -> Dict[str, dict]:
    """Return {model: {column: {'top1_imagenet_r', 'top1', 'images'}}} from the saved predictions."""
    results = {}
    for model in models:
        correct = {column: [0, 0] for column in columns}
        for sample in dataset.samples:
            outputs = json.loads(prediction_path(out, model, sample.frame_id).read_text())
            for column in columns:
                correct[column][0] += int(outputs[column]['top1_imagenet_r'] == sample.class_index)
                correct[column][1] += int(outputs[column]['top1'] == sample.class_index)
        count = len(dataset.samples)
        results[model] = {column: {'top1_imagenet_r': hits / count, 'top1': top1 / count, 'images': count}
                          for column, (hits, top1) in correct.items()}
    return results


def score_detection(dataset: Dataset, out: pathlib.Path, models: Sequence[str],
                    columns: Sequence[str]) -> Dict[str, dict]:
    """Return {model: {column: mAP@50 scores}} from the saved boxes (pycocotools)."""
    from ttm_ros.core.detection_metrics import (GroundTruth, GroundTruthBox, PredictedBox,
                                                evaluate_map50)
    classes = tuple(dataset.class_names)
    images, boxes = {}, []
    for sample in dataset.samples:
        height, width = sample.load_image().shape[:2]
        images[sample.frame_id] = (height, width)
        boxes += [GroundTruthBox(sample.frame_id, (b.x0, b.y0, b.x1, b.y1), b.label) for b in sample.boxes]
    ground_truth = GroundTruth(images, boxes, classes)
    results = {}
    for model in models:
        predictions: Dict[str, List[PredictedBox]] = {column: [] for column in columns}
        dropped = {column: 0 for column in columns}
        for sample in dataset.samples:
            outputs = json.loads(prediction_path(out, model, sample.frame_id).read_text())
            for column in columns:
                for detection in outputs[column]:
                    if detection['label'] not in classes:
                        dropped[column] += 1
                        continue
                    predictions[column].append(PredictedBox(sample.frame_id, tuple(detection['box']),
                                                            detection['score'], detection['label']))
        results[model] = {}
        for column in columns:
            scores = evaluate_map50(ground_truth, predictions[column]).as_dict()
            scores['predictions_of_other_classes'] = dropped[column]
            results[model][column] = scores
        groups = attribute_groups(dataset)
        if groups:
            results[model]['groups'] = {
                name: {column: evaluate_map50(_subset(ground_truth, frames),
                                              [p for p in predictions[column] if p.image in frames]).as_dict()
                       for column in columns}
                for name, frames in groups.items()}
    return results


def attribute_groups(dataset: Dataset) -> Dict[str, set]:
    """Return {'<attribute>=<value>': frame ids} over the samples' attributes (BDD100K timeofday, ...)."""
    groups: Dict[str, set] = {}
    for sample in dataset.samples:
        for key, value in sample.attributes.items():
            groups.setdefault(f'{key}={value}', set()).add(sample.frame_id)
    return dict(sorted(groups.items()))


def _subset(ground_truth, frames: set):
    """Return the ground truth of `frames` only, with the same classes."""
    from ttm_ros.core.detection_metrics import GroundTruth
    return GroundTruth({key: size for key, size in ground_truth.images.items() if key in frames},
                       [box for box in ground_truth.boxes if box.image in frames], ground_truth.classes)


def score(dataset: Dataset, out: pathlib.Path, models: Sequence[str], columns: Sequence[str]) -> Dict[str, dict]:
    """Return the scores of the task of `dataset` (see the module docstring)."""
    if dataset.task == 'segmentation':
        return score_segmentation(dataset, out, models, columns)
    if dataset.task == 'classification':
        return score_classification(dataset, out, models, columns)
    return score_detection(dataset, out, models, columns)
