"""Live evaluation: the bag replayed through the running TTM node, its outputs scored.

Per model and translator, `ttm-ros demo`'s three processes run with evaluation mode
(every frame processed, none dropped), the camera publishing the bag's messages
unchanged and `/clock` from their header stamps, and the node on `use_sim_time`.
The recorder's mask PNGs are filed into the offline layout
(`masks/<model>/<column>/<frame>.png`) and `frames/<frame>.json`, so the offline
scorer and report produce metrics.json from them.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import time
from typing import List

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.demo import DemoOptions, run_demo
from ttm_ros.eval.cache import frame_hash, write_text_atomic
from ttm_ros.eval.datasets import Dataset, read_rgb
from ttm_ros.eval.evaluate import write_evaluation
from ttm_ros.eval.runner import EvalPlan, frame_record_path, mask_path

#: Demo recorder file suffix -> column suffix of the offline layout.
RECORDED_MASKS = {'base_mask': 'base', 'ttm_mask': 'ttm', 'fused_mask': 'fused'}


def node_parameters(plan: EvalPlan, model_index: int, translator_index: int) -> dict:
    """Return the node parameter overrides that select one model and one translator of `plan`."""
    model = plan.models[model_index]
    translator = plan.translators[translator_index]
    values = {'translator.name': translator.name, 'segmenter.name': model.name,
              'fusion.weight': plan.fusion_weight}
    for field in dataclasses.fields(translator.settings):
        if field.name != 'extra':
            values[f'translator.{field.name}'] = getattr(translator.settings, field.name)
    for field in ('model', 'config', 'device', 'num_threads'):
        values[f'segmenter.{field}'] = getattr(model.settings, field)
    return values


def run_live(dataset: Dataset, plan: EvalPlan, topic: str = '', profile: str = 'cpu',
             timeout: float = 3600.0) -> dict:
    """Replay the bag of `dataset` through the node once per model and translator; return metrics.json.

    NOTE: only segmentation with the TTM node is replayed live; classification and
    detection sets and dataset folders are evaluated on the offline path only.
    """
    if dataset.layout != 'rosbag2' or dataset.task != 'segmentation':
        raise ConfigurationError('the live path replays a rosbag2 with segmentation labels; use the '
                                 'offline path for dataset folders, classification and detection')
    started = time.monotonic()
    frames = [sample.frame_id for sample in dataset.samples]
    records = {sample.frame_id: {'frame': sample.frame_id, 'frame_sha256': frame_hash(sample.load_image()),
                                 'timings_ms': {}, 'fallbacks': {}, 'problems': []}
               for sample in dataset.samples}
    for model_index, model in enumerate(plan.models):
        for translator_index, translator in enumerate(plan.translators):
            run_dir = plan.out / 'live' / model.label / translator.label
            shutil.rmtree(run_dir, ignore_errors=True)
            summary = run_demo(DemoOptions(input=pathlib.Path(dataset.root), out=run_dir, profile=profile,
                                           parameters=node_parameters(plan, model_index, translator_index),
                                           topic=topic, timeout=timeout, use_sim_time=True))
            _file_outputs(plan, run_dir, summary, model.label, translator.label, records)
    for frame, record in records.items():
        write_text_atomic(frame_record_path(plan.out, frame), json.dumps(record, indent=1))
    run = {'path': 'live', 'wall_time_s': time.monotonic() - started}

    def load_pseudo(frame: str, label: str):
        path = plan.out / 'live' / plan.models[0].label / label / f'{frame}_pseudo_source.png'
        return read_rgb(path) if path.is_file() else None

    return write_evaluation(dataset, plan, frames, run, load_pseudo)


def _file_outputs(plan: EvalPlan, run_dir: pathlib.Path, summary: dict, model: str, translator: str,
                  records: dict) -> None:
    """Copy the recorded masks of one node run into the offline layout and merge the frame records."""
    for entry in summary['frames']:
        frame = entry['name']
        if frame not in records:
            continue
        for suffix, column in RECORDED_MASKS.items():
            source = run_dir / f'{frame}_{suffix}.png'
            if not source.is_file():
                raise RuntimeError(f'the node published no {suffix} for frame {frame} (stamp {entry["stamp_ns"]}); '
                                   f'see {run_dir / "logs"}')
            name = 'base' if column == 'base' else f'{translator}-{column}'
            target = mask_path(plan.out, model, name, frame)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        record = records[frame]
        record['stamp_ns'] = entry['stamp_ns']
        record['timings_ms'][f'{model}/{translator}'] = entry['latency_ms'] or {}
        record['fallbacks'][f'{model}/{translator}'] = entry['fallback']
        record['problems'] += entry['problems']


def frames_with_outputs(plan: EvalPlan, frames: List[str]) -> List[str]:
    """Return the frames that have every mask of every model and translator."""
    from ttm_ros.eval.runner import column_names
    columns = column_names('segmentation', plan.translators)
    return [frame for frame in frames
            if all(mask_path(plan.out, m.label, c, frame).is_file() for m in plan.models for c in columns)]
