"""Live evaluation: the bag replayed through the running nodes, their outputs scored.

Per model and translator, `ttm-ros demo`'s three processes run with evaluation mode
(every frame processed, none dropped), the camera publishing the bag's messages
unchanged and `/clock` from their header stamps, and the nodes on `use_sim_time`.

- Segmentation: the TTM node's recorded masks are filed into the offline layout
  (`masks/<model>/<column>/<frame>.png`).
- Detection: the detection node runs beside the TTM node and detects on its
  pseudo-source image. The `base` column is a run with the identity translator, so the
  detector receives the original frame. Its recorded boxes are filed into
  `predictions/<model>/<frame>.json`.

With `frames/<frame>.json`, the offline scorer and report produce metrics.json from them.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import time
from typing import Dict, List

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.demo import DemoOptions, run_demo
from ttm_ros.demo.detection import read_detections
from ttm_ros.eval.cache import frame_hash, write_text_atomic
from ttm_ros.eval.datasets import Dataset, read_rgb
from ttm_ros.eval.evaluate import write_evaluation
from ttm_ros.eval.runner import EvalPlan, frame_record_path, mask_path, prediction_path

#: Demo recorder file suffix -> column suffix of the offline layout.
RECORDED_MASKS = {'base_mask': 'base', 'ttm_mask': 'ttm', 'fused_mask': 'fused'}
#: Run folder of a detection run's base column (the identity translator).
BASE_RUN = 'base'


def node_parameters(plan: EvalPlan, model_index: int, translator_index: int, task: str = 'segmentation',
                    translator_name: str = '') -> dict:
    """Return the node parameter overrides that select one model and one translator of `plan`.

    `translator_name` replaces the translator's registry name (the identity translator
    of a detection run's base column) and keeps its settings.
    """
    model = plan.models[model_index]
    translator = plan.translators[translator_index]
    values = {'translator.name': translator_name or translator.name, 'fusion.weight': plan.fusion_weight}
    for field in dataclasses.fields(translator.settings):
        if field.name != 'extra':
            values[f'translator.{field.name}'] = getattr(translator.settings, field.name)
    if task == 'detection':
        values['detector.name'] = model.name
        for field in dataclasses.fields(model.settings):
            if field.name != 'extra':
                values[f'detector.{field.name}'] = getattr(model.settings, field.name)
        return values
    values['segmenter.name'] = model.name
    for field in ('model', 'config', 'device', 'num_threads'):
        values[f'segmenter.{field}'] = getattr(model.settings, field)
    return values


def run_live(dataset: Dataset, plan: EvalPlan, topic: str = '', profile: str = 'cpu',
             timeout: float = 3600.0) -> dict:
    """Replay the bag of `dataset` through the nodes once per model and column; return metrics.json.

    NOTE: classification sets and dataset folders are evaluated on the offline path only.
    """
    if dataset.layout != 'rosbag2' or dataset.task not in ('segmentation', 'detection'):
        raise ConfigurationError('the live path replays a rosbag2 with segmentation labels or box annotations; '
                                 'use the offline path for dataset folders and classification')
    started = time.monotonic()
    frames = [sample.frame_id for sample in dataset.samples]
    records = {sample.frame_id: {'frame': sample.frame_id, 'frame_sha256': frame_hash(sample.load_image()),
                                 'labels_sha256': sample.labels_sha256(),
                                 'timings_ms': {}, 'fallbacks': {}, 'problems': []}
               for sample in dataset.samples}

    def replay(model_index: int, translator_index: int, run_label: str, translator_name: str = '') -> tuple:
        run_dir = plan.out / 'live' / plan.models[model_index].label / run_label
        shutil.rmtree(run_dir, ignore_errors=True)
        parameters = node_parameters(plan, model_index, translator_index, dataset.task, translator_name)
        summary = run_demo(DemoOptions(input=pathlib.Path(dataset.root), out=run_dir, profile=profile,
                                       parameters=parameters, topic=topic, timeout=timeout, use_sim_time=True,
                                       detection=dataset.task == 'detection'))
        return run_dir, summary

    for model_index, model in enumerate(plan.models):
        if dataset.task == 'segmentation':
            for translator_index, translator in enumerate(plan.translators):
                run_dir, summary = replay(model_index, translator_index, translator.label)
                _file_masks(plan, run_dir, summary, model.label, translator.label, records)
            continue
        predictions: Dict[str, dict] = {frame: {} for frame in frames}
        run_dir, summary = replay(model_index, 0, BASE_RUN, 'identity')
        _file_boxes(run_dir, summary, 'base', f'{model.label}/base', predictions, records)
        for translator_index, translator in enumerate(plan.translators):
            run_dir, summary = replay(model_index, translator_index, translator.label)
            _file_boxes(run_dir, summary, f'{translator.label}-ttm', f'{model.label}/{translator.label}',
                        predictions, records)
        for frame, columns in predictions.items():
            write_text_atomic(prediction_path(plan.out, model.label, frame), json.dumps(columns, indent=1))
    for frame, record in records.items():
        write_text_atomic(frame_record_path(plan.out, frame), json.dumps(record, indent=1))
    run = {'path': 'live', 'wall_time_s': time.monotonic() - started}

    def load_pseudo(frame: str, label: str):
        path = plan.out / 'live' / plan.models[0].label / label / f'{frame}_pseudo_source.png'
        return read_rgb(path) if path.is_file() else None

    return write_evaluation(dataset, plan, frames, run, load_pseudo)


def _file_masks(plan: EvalPlan, run_dir: pathlib.Path, summary: dict, model: str, translator: str,
                records: dict) -> None:
    """Copy the recorded masks of one node run into the offline layout and merge the frame records."""
    for entry in _run_frames(summary, records):
        frame = entry['name']
        for suffix, column in RECORDED_MASKS.items():
            source = run_dir / f'{frame}_{suffix}.png'
            if not source.is_file():
                raise RuntimeError(f'the node published no {suffix} for frame {frame} (stamp {entry["stamp_ns"]}); '
                                   f'see {run_dir / "logs"}')
            name = 'base' if column == 'base' else f'{translator}-{column}'
            target = mask_path(plan.out, model, name, frame)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        _merge_record(records[frame], entry, f'{model}/{translator}')


def _file_boxes(run_dir: pathlib.Path, summary: dict, column: str, key: str, predictions: Dict[str, dict],
                records: dict) -> None:
    """Add the recorded boxes of one node run as `column` of each frame's predictions."""
    for entry in _run_frames(summary, records):
        frame = entry['name']
        boxes = read_detections(run_dir, frame)
        if boxes is None:
            reason = entry.get('detection_failed') or 'no detections were recorded'
            raise RuntimeError(f'the detection node gave no boxes for frame {frame} (stamp {entry["stamp_ns"]}): '
                               f'{reason}; see {run_dir / "logs"}')
        predictions[frame][column] = boxes
        _merge_record(records[frame], entry, key)


def _run_frames(summary: dict, records: dict) -> List[dict]:
    """Return the summary entries of one node run for the evaluated frames."""
    return [entry for entry in summary['frames'] if entry['name'] in records]


def _merge_record(record: dict, entry: dict, key: str) -> None:
    """Add one node run's stamp, stage timings, fallback and problems to a frame record.

    The detection node's stages are prefixed `detection_` (`detection_detect`), beside
    the TTM node's.
    """
    record['stamp_ns'] = entry['stamp_ns']
    record['timings_ms'][key] = {**(entry['latency_ms'] or {}),
                                 **{f'detection_{stage}': value
                                    for stage, value in (entry.get('detection_latency_ms') or {}).items()}}
    record['fallbacks'][key] = entry['fallback']
    record['problems'] += entry['problems']
