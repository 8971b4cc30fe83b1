"""Offline evaluation: every frame through the core pipeline, outputs saved, then scored.

One run covers several models and several translators on the same frames. Per model
and frame the columns are:
- `base`: the model on the original frame;
- `<translator>-ttm`: the model on the translated (pseudo-source) frame;
- `<translator>-fused` (segmentation only): the argmax of
  `w p(original) + (1 - w) p(translated)`, as `TTMPipeline.process` computes it.

Files under the output folder:
- `masks/<model>/<column>/<frame>.png`: mono8 trainId masks (segmentation);
- `predictions/<model>/<frame>.json`: top-1 classes (classification) or boxes
  (detection) of every column;
- `frames/<frame>.json`: stage timings and fallbacks, written last (atomically), so
  its presence marks a finished frame. A re-run skips finished frames, which makes an
  interrupted run resume where it stopped.
Scores are computed afterwards from these files only (`ttm_ros.eval.scoring`), so
the offline and the live path share one scorer.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.translators.base import TranslatorSettings
from ttm_ros.eval.cache import (DEFAULT_CACHE_DIR, CachedTranslator, frame_hash, write_png_atomic,
                                write_text_atomic)
from ttm_ros.eval.datasets import Dataset, Sample

LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass
class TranslatorSpec:
    """One translator of a run: its column label, registry name and settings."""

    label: str
    name: str
    settings: TranslatorSettings


@dataclasses.dataclass
class ModelSpec:
    """One perception model of a run: label, registry name and backend settings."""

    label: str
    name: str
    settings: object


@dataclasses.dataclass
class EvalPlan:
    """What one evaluation runs: translators x models on a dataset, and where results go."""

    out: pathlib.Path
    translators: List[TranslatorSpec]
    models: List[ModelSpec]
    fusion_weight: float = 0.5
    cache_dir: pathlib.Path = DEFAULT_CACHE_DIR
    limit: int = 0
    progress: bool = True


def column_names(task: str, translators: Sequence[TranslatorSpec]) -> List[str]:
    """Return the result columns of a task: base, then per translator ttm (and fused)."""
    columns = ['base']
    for translator in translators:
        columns.append(f'{translator.label}-ttm')
        if task == 'segmentation':
            columns.append(f'{translator.label}-fused')
    return columns


def mask_path(out: pathlib.Path, model: str, column: str, frame: str) -> pathlib.Path:
    return out / 'masks' / model / column / f'{frame}.png'


def frame_record_path(out: pathlib.Path, frame: str) -> pathlib.Path:
    return out / 'frames' / f'{frame}.json'


def prediction_path(out: pathlib.Path, model: str, frame: str) -> pathlib.Path:
    return out / 'predictions' / model / f'{frame}.json'


def build_translators(plan: EvalPlan) -> List[CachedTranslator]:
    from ttm_ros.core.translators import build_translator
    return [CachedTranslator(build_translator(spec.name, spec.settings), plan.cache_dir)
            for spec in plan.translators]


def build_model(task: str, spec: ModelSpec):
    """Build the segmenter, classifier or detector of `spec` for `task`."""
    if task == 'segmentation':
        from ttm_ros.core.segmenters import build_segmenter
        from ttm_ros.paths import resolve_config
        settings = dataclasses.replace(spec.settings)
        if settings.config:
            settings.config = str(resolve_config(settings.config, 'models'))
        return build_segmenter(spec.name, settings)
    if task == 'classification':
        from ttm_ros.core.classifiers import build_classifier
        return build_classifier(spec.name, spec.settings)
    if task == 'detection':
        from ttm_ros.core.detectors import build_detector
        return build_detector(spec.name, spec.settings)
    raise ConfigurationError(f'task {task!r} is unknown; use segmentation, classification or detection')


def run_offline(dataset: Dataset, plan: EvalPlan, interrupt_after: Optional[int] = None) -> List[str]:
    """Process every unfinished frame of `dataset`; return the frame ids in order.

    `interrupt_after` raises KeyboardInterrupt after that many newly processed frames
    (tests use it to simulate an interrupted run).
    """
    # 1. Frames, models and translators.
    samples = dataset.samples[:plan.limit] if plan.limit > 0 else dataset.samples
    plan.out.mkdir(parents=True, exist_ok=True)
    translators = build_translators(plan)
    models = [(spec, build_model(dataset.task, spec)) for spec in plan.models]
    processed = 0
    try:
        # 2. Every frame that has no record yet.
        for sample in _progress(samples, plan.progress, 'eval'):
            if _finished(plan, dataset.task, sample.frame_id):
                continue
            record = _process_sample(dataset.task, sample, plan, translators, models)
            write_text_atomic(frame_record_path(plan.out, sample.frame_id), json.dumps(record, indent=1))
            processed += 1
            if interrupt_after is not None and processed >= interrupt_after:
                raise KeyboardInterrupt(f'interrupted after {processed} frames')
    finally:
        for _, model in models:
            model.close()
        for translator in translators:
            translator.close()
    return [sample.frame_id for sample in samples]


def _progress(samples, enabled: bool, description: str):
    if not enabled:
        return samples
    from tqdm import tqdm
    return tqdm(samples, desc=description, unit='frame')


def _finished(plan: EvalPlan, task: str, frame: str) -> bool:
    if not frame_record_path(plan.out, frame).is_file():
        return False
    if task != 'segmentation':
        return all(prediction_path(plan.out, spec.label, frame).is_file() for spec in plan.models)
    columns = column_names(task, plan.translators)
    return all(mask_path(plan.out, spec.label, column, frame).is_file()
               for spec in plan.models for column in columns)


def _process_sample(task: str, sample: Sample, plan: EvalPlan, translators, models) -> dict:
    """Run every model and translator on one frame, save the outputs, return the frame record."""
    rgb = sample.load_image()
    record = {'frame': sample.frame_id, 'frame_sha256': frame_hash(rgb), 'labels_sha256': sample.labels_sha256(),
              'stamp_ns': sample.stamp_ns, 'height': int(rgb.shape[0]), 'width': int(rgb.shape[1]),
              'timings_ms': {}, 'fallbacks': {}, 'translation_cached': {}}
    for spec, model in models:
        if task == 'segmentation':
            _segment(sample, rgb, spec, model, plan, translators, record)
        else:
            _predict(task, sample, rgb, spec, model, translators, plan, record)
    return record


def _segment(sample, rgb, spec, segmenter, plan, translators, record) -> None:
    from ttm_ros.core.pipeline import TTMPipeline
    for translator_spec, translator in zip(plan.translators, translators):
        pipeline = TTMPipeline(translator, segmenter, plan.fusion_weight)
        result = pipeline.process(rgb, all_masks=True)
        key = f'{spec.label}/{translator_spec.label}'
        timings = dict(result.timings_ms)
        if translator.last_hit:
            timings['translate_cache_read'] = timings.pop('translate')
        record['timings_ms'][key] = timings
        record['fallbacks'][key] = result.fallback_reason
        record['translation_cached'][translator_spec.label] = translator.last_hit
        write_png_atomic(mask_path(plan.out, spec.label, 'base', sample.frame_id), result.mask_base)
        write_png_atomic(mask_path(plan.out, spec.label, f'{translator_spec.label}-ttm', sample.frame_id),
                         result.mask_translated)
        write_png_atomic(mask_path(plan.out, spec.label, f'{translator_spec.label}-fused', sample.frame_id),
                         result.mask_fused)


def _translate(translator, rgb) -> tuple:
    from ttm_ros.core.errors import TranslationRejected
    from ttm_ros.core.fusion import check_translation
    start = time.perf_counter()
    try:
        translated = translator.translate(rgb)
        check_translation(translated, rgb.shape)
        fallback = None
    except TranslationRejected as error:
        translated, fallback = rgb, str(error)
    return translated, fallback, (time.perf_counter() - start) * 1000.0


def _predict(task, sample, rgb, spec, model, translators, plan, record) -> None:
    """Classification or detection: the model on the original and on each translated frame."""
    start = time.perf_counter()
    outputs = {'base': _model_output(task, model, rgb)}
    timings = {'base': {'predict': (time.perf_counter() - start) * 1000.0}}
    for translator_spec, translator in zip(plan.translators, translators):
        translated, fallback, translate_ms = _translate(translator, rgb)
        start = time.perf_counter()
        outputs[f'{translator_spec.label}-ttm'] = _model_output(task, model, translated)
        stage = 'translate_cache_read' if translator.last_hit else 'translate'
        timings[translator_spec.label] = {stage: translate_ms,
                                          'predict': (time.perf_counter() - start) * 1000.0}
        record['fallbacks'][f'{spec.label}/{translator_spec.label}'] = fallback
        record['translation_cached'][translator_spec.label] = translator.last_hit
    for key, value in timings.items():
        record['timings_ms'][f'{spec.label}/{key}'] = value
    write_text_atomic(prediction_path(plan.out, spec.label, sample.frame_id), json.dumps(outputs, indent=1))


def _model_output(task: str, model, rgb: np.ndarray):
    if task == 'classification':
        probabilities = model.predict_proba(rgb)
        if not np.isfinite(probabilities).all():
            raise FrameError('the classifier returned NaN or infinite probabilities')
        from ttm_ros.eval.datasets import imagenet_r_classes
        subset = sorted(imagenet_r_classes().values())
        subset_scores = probabilities[subset] if probabilities.shape[0] == 1000 else None
        return {'top1': int(np.argmax(probabilities)),
                'top1_imagenet_r': int(subset[int(np.argmax(subset_scores))]) if subset_scores is not None
                else None}
    return [{'box': [float(v) for v in d.box], 'label': d.label, 'score': float(d.score)}
            for d in model.detect(rgb)]
