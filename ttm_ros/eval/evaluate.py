"""One evaluation from start to report: run (offline or live), score the saved outputs, report.

`plan_from_profile` builds the translators and models of a run from a parameter
profile (config/cpu.yaml, ...) plus overrides, as the node would load them.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.eval import report, scoring
from ttm_ros.eval.cache import TranslationCache
from ttm_ros.eval.datasets import Dataset
from ttm_ros.eval.runner import EvalPlan, ModelSpec, TranslatorSpec, column_names, run_offline

DEFAULT_CLASSIFIER = 'onnx:mobilenetv2_int8_imagenet'
DEFAULT_DETECTOR = 'onnx:yolox_nano_coco'
MAP_SCORE_THRESHOLD = 0.01
#: Parameter prefix (`-p detector.nms_iou=0.5`) of the model settings of each task;
#: segmenters take the node's `segmenter.*` parameters from the profile.
MODEL_PARAMETER_PREFIXES = {'detection': 'detector.', 'classification': 'classifier.'}


def parse_backend(text: str, task: str = '') -> tuple:
    """Split `backend[:config-or-model]` into (backend, value).

    The backend is a registered name of the task's registry or a plug-in
    `package.module:ClassName`, so when the first part is not registered the first two
    parts name the backend. A value ending in .onnx or naming a folder is a model.
    """
    parts = [part.strip() for part in text.split(':')]
    if len(parts) > 1 and parts[0] not in _registered(task):
        return ':'.join(parts[:2]), ':'.join(parts[2:])
    return parts[0], ':'.join(parts[1:])


def _registered(task: str) -> List[str]:
    """Return the registered backend names of the task's model registry."""
    if task == 'classification':
        from ttm_ros.core.classifiers import CLASSIFIERS
        return CLASSIFIERS.names()
    if task == 'detection':
        from ttm_ros.core.detectors import DETECTORS
        return DETECTORS.names()
    from ttm_ros.core.segmenters import SEGMENTERS
    return SEGMENTERS.names()


def plan_from_profile(task: str, out: pathlib.Path, profile: str, overrides: Dict[str, object],
                      translators: Sequence[str], models: Sequence[str], **options) -> EvalPlan:
    """Build an EvalPlan: node settings from `profile` + `overrides`, one entry per translator and model.

    `translators` are registry names (empty: the profile's translator); `models` are
    `backend:config-or-model` strings (empty: the profile's segmenter, or the default
    classifier or detector).
    """
    from ttm_ros.core.parameters import settings_from_values
    from ttm_ros.demo import effective_parameters
    settings = settings_from_values({k: v for k, v in effective_parameters(profile, overrides).items()
                                     if not k.startswith(('detector.', 'classifier.'))})
    translator_specs = [TranslatorSpec(name, name, dataclasses.replace(settings.translator))
                        for name in (translators or [settings.translator_name])]
    labels = [spec.label for spec in translator_specs]
    if len(set(labels)) != len(labels):
        raise ConfigurationError(f'translators {labels} repeat a name; give each translator once')
    prefix = MODEL_PARAMETER_PREFIXES.get(task, '')
    model_overrides = {name[len(prefix):]: value for name, value in overrides.items()
                       if prefix and name.startswith(prefix)}
    if 'name' in model_overrides and not models:
        models = [str(model_overrides['name'])]
    model_specs = [_model_spec(task, text, settings) for text in (models or [''])]
    if task == 'detection':
        # mAP integrates over the whole precision-recall curve, so low-score boxes count.
        model_overrides.setdefault('score_threshold', MAP_SCORE_THRESHOLD)
    for spec in model_specs:
        _apply_model_overrides(spec, model_overrides, prefix)
    return EvalPlan(out=out, translators=translator_specs, models=model_specs,
                    fusion_weight=settings['fusion.weight'], **options)


def _apply_model_overrides(spec: ModelSpec, values: Dict[str, object], prefix: str) -> None:
    """Set the `-p <prefix><field>=value` overrides on a classifier's or detector's settings."""
    fields = {field.name: field for field in dataclasses.fields(spec.settings) if field.name != 'extra'}
    for name, value in values.items():
        if name == 'name':
            continue
        if name not in fields:
            raise ConfigurationError(f'-p {prefix}{name} is not a {prefix.rstrip(".")} setting; known: '
                                     f'{", ".join(prefix + known for known in ["name", *fields])}')
        current = getattr(spec.settings, name)
        try:
            setattr(spec.settings, name, type(current)(value) if current is not None else value)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f'-p {prefix}{name}={value!r} is invalid: {error}') from error


def _model_spec(task: str, text: str, settings) -> ModelSpec:
    if task == 'segmentation':
        if not text:
            return ModelSpec(settings.segmenter_name, settings.segmenter_name, dataclasses.replace(settings.segmenter))
        name, value = parse_backend(text, task)
        segmenter = dataclasses.replace(settings.segmenter)
        if value.endswith('.onnx') or pathlib.Path(value).is_dir():
            segmenter.model = value
        elif value:
            segmenter.config, segmenter.model = value, ''
        return ModelSpec(_label(text, task), name, segmenter)
    if task == 'classification':
        from ttm_ros.core.classifiers import ClassifierSettings
        name, value = parse_backend(text or DEFAULT_CLASSIFIER, task)
        is_model = value.endswith('.onnx') or pathlib.Path(value).is_dir()
        if name == 'onnx' and is_model:
            return ModelSpec(_label(text or DEFAULT_CLASSIFIER, task), name,
                             ClassifierSettings(model=value, config='mobilenetv2_int8_imagenet'))
        return ModelSpec(_label(text or DEFAULT_CLASSIFIER, task), name,
                         ClassifierSettings(model=value) if is_model or name != 'onnx'
                         else ClassifierSettings(config=value))
    from ttm_ros.core.detectors import DetectorSettings
    name, value = parse_backend(text or DEFAULT_DETECTOR, task)
    is_model = value.endswith('.onnx') or pathlib.Path(value).is_dir()
    return ModelSpec(_label(text or DEFAULT_DETECTOR, task), name,
                     DetectorSettings(model=value) if is_model else DetectorSettings(config=value))


def _label(text: str, task: str) -> str:
    """Return the folder-safe label of a model: backend (class name of a plug-in) and value stem."""
    name, value = parse_backend(text, task)
    name = name.split(':')[-1]
    stem = pathlib.Path(value).stem if value else ''
    return f'{name}-{stem}' if stem else name


def configuration(plan: EvalPlan) -> dict:
    """Return the run configuration for metrics.json: translator cache keys, model settings, fusion weight."""
    from ttm_ros.core.translators import build_translator
    translators = []
    for spec in plan.translators:
        translator = build_translator(spec.name, spec.settings)
        translators.append({'label': spec.label, 'name': spec.name, 'cache_key': translator.cache_key()})
        translator.close()
    return {'translators': translators,
            'models': [{'label': m.label, 'name': m.name, 'settings': dataclasses.asdict(m.settings)}
                       for m in plan.models],
            'fusion_weight': plan.fusion_weight, 'cache_dir': str(plan.cache_dir), 'limit': plan.limit}


def evaluate_offline(dataset: Dataset, plan: EvalPlan, interrupt_after: Optional[int] = None) -> dict:
    """Run, score and report one offline evaluation; return the metrics.json document."""
    # 1. Run every frame through the core pipeline (finished frames are skipped).
    started = time.monotonic()
    frames = run_offline(dataset, plan, interrupt_after)
    wall_s = time.monotonic() - started

    # 2. Scores from the saved outputs, then the reports.
    return write_evaluation(dataset, plan, frames, {'path': 'offline', 'wall_time_s': wall_s},
                            lambda frame, label: _cached_translation(dataset, plan, frame, label))


def write_evaluation(dataset: Dataset, plan: EvalPlan, frames: Sequence[str], run: dict,
                     load_pseudo) -> dict:
    """Score the saved outputs of `frames` and write metrics.json, report.md and report.html."""
    scored = dataclasses.replace(dataset, samples=[s for s in dataset.samples if s.frame_id in set(frames)])
    models = [spec.label for spec in plan.models]
    columns = column_names(dataset.task, plan.translators)
    results = scoring.score(scored, plan.out, models, columns)
    records = report.frame_records(plan.out, frames)
    dataset_info = {'layout': dataset.layout, 'root': str(dataset.root), 'frames': len(frames),
                    'frame_ids': list(frames)}
    document = report.build_document(dataset.task, dataset_info, configuration(plan), results, records, run)
    samples = {s.frame_id: s for s in scored.samples}
    rows = report.write_samples(plan.out, list(frames), models if dataset.task == 'segmentation' else [],
                                columns, lambda frame: samples[frame].load_image(), load_pseudo,
                                [spec.label for spec in plan.translators])
    report.write_reports(plan.out, document, rows)
    return document


def _cached_translation(dataset: Dataset, plan: EvalPlan, frame: str, label: str) -> Optional[np.ndarray]:
    from ttm_ros.core.translators import build_translator
    spec = next(s for s in plan.translators if s.label == label)
    translator = build_translator(spec.name, spec.settings)
    cache = TranslationCache(plan.cache_dir, translator.cache_key())
    translator.close()
    sample = next(s for s in dataset.samples if s.frame_id == frame)
    return cache.get(sample.load_image())


def comparable(document: dict) -> dict:
    """Return metrics.json without the fields that depend on the run (timings, dates, paths)."""
    return {key: value for key, value in document.items() if key not in ('latency_ms', 'run')}
