"""Evaluation reports: metrics.json, report.md and report.html with inline SVG charts.

metrics.json contains every number, the configuration, package versions and a sha256
of the inputs; report.md and report.html show the same numbers, a per-class IoU bar
chart per model (one bar per column), a latency histogram per pipeline stage and a
few sample rows (original, pseudo-source, masks), all drawn here without plotting
libraries.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import importlib.metadata
import json
import pathlib
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from ttm_ros.core import labels
from ttm_ros.eval.cache import write_text_atomic
from ttm_ros.eval.runner import frame_record_path, mask_path
from ttm_ros.eval.scoring import DEFINITIONS

PACKAGES = ('ttm_ros', 'numpy', 'opencv-python', 'opencv-python-headless', 'onnxruntime', 'torch',
            'diffusers', 'transformers', 'rosbags', 'pycocotools', 'Pillow')
COLUMN_COLORS = ('#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3', '#937860', '#da8bc3')
SAMPLE_WIDTH = 320


def package_versions() -> Dict[str, Optional[str]]:
    """Return {distribution: version or None} of the packages that affect the numbers."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def frame_records(out: pathlib.Path, frames: Sequence[str]) -> List[dict]:
    """Return the per-frame records (timings, fallbacks, frame hash) of `frames`."""
    return [json.loads(frame_record_path(out, frame).read_text()) for frame in frames]


def inputs_hash(records: Sequence[dict]) -> str:
    """Return the sha256 over the frame ids and the content hashes of their frames and labels."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(f"{record['frame']}\0{record.get('frame_sha256', '')}\0"
                      f"{record.get('labels_sha256', '')}\n".encode())
    return digest.hexdigest()


def latency_summary(records: Sequence[dict]) -> Dict[str, Dict[str, dict]]:
    """Return {model/translator: {stage: {count, mean_ms, p95_ms, max_ms, values_ms}}}."""
    values: Dict[str, Dict[str, List[float]]] = {}
    for record in records:
        for key, stages in record['timings_ms'].items():
            for stage, milliseconds in stages.items():
                values.setdefault(key, {}).setdefault(stage, []).append(float(milliseconds))
    return {key: {stage: {'count': len(v), 'mean_ms': float(np.mean(v)), 'p95_ms': float(np.percentile(v, 95)),
                          'max_ms': float(np.max(v)), 'values_ms': v}
                  for stage, v in stages.items()}
            for key, stages in values.items()}


def write_metrics(out: pathlib.Path, document: dict) -> pathlib.Path:
    path = out / 'metrics.json'
    write_text_atomic(path, json.dumps(document, indent=1, allow_nan=False, default=str))
    return path


#: The definitions in each task's metrics.json and reports.
TASK_DEFINITIONS = {'segmentation': ('miou', 'iou', 'pixel_accuracy', 'columns'),
                    'classification': ('top1_imagenet_r', 'columns'),
                    'detection': ('map50', 'columns')}
#: The headline score of a group line, per task.
GROUP_SCORE = {'segmentation': ('miou', 'mIoU'), 'detection': ('map50', 'mAP@50')}


def group_lines(document: dict) -> List[Tuple[str, str]]:
    """Return (model, '<group>: <column> <score>, ...') for every attribute group of the results."""
    if document['task'] not in GROUP_SCORE:
        return []
    key, title = GROUP_SCORE[document['task']]
    return [(model, f'{group}: ' + ', '.join(f'{column} {title} {_number(scores[key])}'
                                            for column, scores in group_columns.items()))
            for model, columns in document['results'].items()
            for group, group_columns in columns.get('groups', {}).items()]


def build_document(task: str, dataset_info: dict, configuration: dict, results: dict,
                   records: Sequence[dict], run: dict) -> dict:
    """Return the metrics.json content."""
    return {
        'task': task,
        'dataset': dataset_info,
        'configuration': configuration,
        'versions': package_versions(),
        'inputs_sha256': inputs_hash(records),
        'definitions': {name: DEFINITIONS[name] for name in TASK_DEFINITIONS[task]},
        'results': results,
        'fallbacks': sum(1 for r in records for reason in r.get('fallbacks', {}).values() if reason),
        'latency_ms': latency_summary(records),
        'run': {**run, 'written': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')},
    }


# ---------------------------------------------------------------------------------
# Sample rows


def write_samples(out: pathlib.Path, frames: Sequence[str], models: Sequence[str], columns: Sequence[str],
                  load_original: Callable[[str], np.ndarray],
                  load_pseudo: Callable[[str, str], Optional[np.ndarray]],
                  translators: Sequence[str], count: int = 3) -> List[dict]:
    """Write small JPEGs of the first `count` frames; return rows of {frame, images: [(title, file)]}."""
    rows = []
    folder = out / 'samples'
    folder.mkdir(parents=True, exist_ok=True)
    for frame in frames[:count]:
        safe = frame.replace('/', '_')
        images = [('original', _thumbnail(folder / f'{safe}_original.jpg', load_original(frame)))]
        for translator in translators:
            pseudo = load_pseudo(frame, translator)
            if pseudo is not None:
                images.append((f'{translator} pseudo-source',
                               _thumbnail(folder / f'{safe}_{translator}_pseudo.jpg', pseudo)))
        if models:
            for column in columns:
                path = mask_path(out, models[0], column, frame)
                if path.is_file():
                    color = labels.train_ids_to_color(cv2.imread(str(path), cv2.IMREAD_UNCHANGED))
                    images.append((f'{column} mask', _thumbnail(folder / f'{safe}_{column}_mask.png', color)))
        rows.append({'frame': frame, 'images': images})
    return rows


def _thumbnail(path: pathlib.Path, rgb: np.ndarray) -> str:
    height, width = rgb.shape[:2]
    size = (SAMPLE_WIDTH, max(1, round(height * SAMPLE_WIDTH / width)))
    interpolation = cv2.INTER_NEAREST if path.suffix == '.png' else cv2.INTER_AREA
    cv2.imwrite(str(path), cv2.cvtColor(cv2.resize(rgb, size, interpolation=interpolation), cv2.COLOR_RGB2BGR))
    return f'samples/{path.name}'


# ---------------------------------------------------------------------------------
# Markdown and HTML


def _number(value) -> str:
    return '-' if value is None else f'{value:.4f}'


def _headline(task: str, scores: dict) -> Dict[str, object]:
    if task == 'segmentation':
        return {'mIoU': scores['miou'], 'pixel accuracy': scores['pixel_accuracy'], 'frames': scores['frames']}
    if task == 'classification':
        return {'top-1 (ImageNet-R subset)': scores['top1_imagenet_r'], 'top-1 (1000 classes)': scores['top1'],
                'images': scores['images']}
    return {'mAP@50': scores['map50'], 'predictions': scores['predictions']}


def _table_rows(document: dict) -> List[List[str]]:
    rows = []
    for model, columns in document['results'].items():
        for column, scores in columns.items():
            if column == 'groups':
                continue
            cells = [model, column]
            for value in _headline(document['task'], scores).values():
                cells.append(str(value) if isinstance(value, int) else _number(value))
            rows.append(cells)
    return rows


def _table_header(document: dict) -> List[str]:
    first = next(iter(next(iter(document['results'].values())).values()))
    return ['model', 'column', *_headline(document['task'], first)]


def render_markdown(document: dict, samples: Sequence[dict]) -> str:
    """Return report.md: configuration, score table, definitions, per-class IoU, latency, samples."""
    lines = [f"# Evaluation: {document['dataset']['layout']} ({document['task']})", '',
             f"Input: `{document['dataset']['root']}`, {document['dataset']['frames']} frames, "
             f"inputs sha256 `{document['inputs_sha256'][:16]}`.", '']
    header = _table_header(document)
    lines += ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in _table_rows(document)]
    lines += ['', '## Definitions', '']
    lines += [f'- **{name}**: {text}' for name, text in document['definitions'].items()]
    if document['task'] == 'segmentation':
        for model, columns in document['results'].items():
            names = [c for c in columns if c != 'groups']
            lines += ['', f'## Per-class IoU: {model}', '', '| class | ' + ' | '.join(names) + ' |',
                      '|' + '---|' * (len(names) + 1)]
            for class_name in labels.CITYSCAPES_CLASSES:
                lines.append(f'| {class_name} | ' + ' | '.join(_number(columns[c]['iou'][class_name])
                                                            for c in names) + ' |')
    groups = group_lines(document)
    if groups:
        lines += ['', '## Scores per group', '']
        lines += [f'- {model}, {line}' for model, line in groups]
    lines += ['', '## Latency per stage (ms)', '', '| run | stage | frames | mean | p95 | max |',
              '|---|---|---|---|---|---|']
    for key, stages in document['latency_ms'].items():
        for stage, values in stages.items():
            lines.append(f"| {key} | {stage} | {values['count']} | {values['mean_ms']:.1f} | "
                         f"{values['p95_ms']:.1f} | {values['max_ms']:.1f} |")
    if samples:
        lines += ['', '## Samples', '']
        for row in samples:
            lines.append(f"**{row['frame']}**\n")
            lines.append(' '.join(f'![{title}]({path})' for title, path in row['images']) + '\n')
    return '\n'.join(lines) + '\n'


def iou_bar_chart(columns: Mapping[str, dict]) -> str:
    """Return an SVG grouped bar chart of per-class IoU, one bar colour per column."""
    names = [c for c in columns if c != 'groups']
    classes = labels.CITYSCAPES_CLASSES
    group_width, bar_width, height, left = 12 + 10 * len(names), 10, 220, 40
    width = left + group_width * len(classes) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 110}" '
             'font-family="sans-serif" font-size="10">',
             f'<line x1="{left}" y1="{height}" x2="{width}" y2="{height}" stroke="black"/>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = height - tick * (height - 10)
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{tick:.2f}</text>'
                     f'<line x1="{left}" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#ddd"/>')
    for index, class_name in enumerate(classes):
        x0 = left + index * group_width + 6
        for position, column in enumerate(names):
            value = columns[column]['iou'][class_name]
            bar = 0.0 if value is None else value * (height - 10)
            parts.append(f'<rect x="{x0 + position * bar_width}" y="{height - bar:.1f}" width="{bar_width - 1}" '
                         f'height="{bar:.1f}" fill="{COLUMN_COLORS[position % len(COLUMN_COLORS)]}">'
                         f'<title>{html.escape(class_name)} {html.escape(column)}: {_number(value)}</title></rect>')
        parts.append(f'<text transform="translate({x0 + 4},{height + 8}) rotate(60)">{html.escape(class_name)}</text>')
    for position, column in enumerate(names):
        parts.append(f'<rect x="{left + position * 150}" y="{height + 95}" width="10" height="10" '
                     f'fill="{COLUMN_COLORS[position % len(COLUMN_COLORS)]}"/>'
                     f'<text x="{left + position * 150 + 14}" y="{height + 104}">{html.escape(column)}</text>')
    parts.append('</svg>')
    return ''.join(parts)


def latency_histogram(values: Sequence[float], title: str, bins: int = 20) -> str:
    """Return an SVG histogram of latencies in ms."""
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=bins)
    width, height, left = 320, 120, 30
    bar = (width - left) / bins
    peak = max(int(counts.max()), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" '
             'font-family="sans-serif" font-size="10">',
             f'<text x="{left}" y="12">{html.escape(title)}</text>']
    for index, count in enumerate(counts):
        bar_height = count / peak * (height - 20)
        parts.append(f'<rect x="{left + index * bar:.1f}" y="{height - bar_height:.1f}" width="{bar - 1:.1f}" '
                     f'height="{bar_height:.1f}" fill="#4c72b0"><title>{edges[index]:.1f}-{edges[index + 1]:.1f} ms: '
                     f'{count}</title></rect>')
    parts.append(f'<text x="{left}" y="{height + 14}">{edges[0]:.1f} ms</text>'
                 f'<text x="{width}" y="{height + 14}" text-anchor="end">{edges[-1]:.1f} ms</text>'
                 f'<text x="{left - 4}" y="22" text-anchor="end">{peak}</text></svg>')
    return ''.join(parts)


def render_html(document: dict, samples: Sequence[dict]) -> str:
    """Return report.html: the Markdown report's content with SVG charts and sample images."""
    title = f"Evaluation: {document['dataset']['layout']} ({document['task']})"
    parts = [f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
             '<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}'
             'td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{margin:2px}</style></head><body>',
             f'<h1>{html.escape(title)}</h1><p>Input <code>{html.escape(str(document["dataset"]["root"]))}</code>, '
             f'{document["dataset"]["frames"]} frames, inputs sha256 <code>{document["inputs_sha256"][:16]}</code>.</p>',
             '<table><tr>' + ''.join(f'<th>{html.escape(h)}</th>' for h in _table_header(document)) + '</tr>']
    for row in _table_rows(document):
        parts.append('<tr>' + ''.join(f'<td>{html.escape(cell)}</td>' for cell in row) + '</tr>')
    parts.append('</table><h2>Definitions</h2><ul>')
    parts += [f'<li><b>{html.escape(n)}</b>: {html.escape(t)}</li>' for n, t in document['definitions'].items()]
    parts.append('</ul>')
    if document['task'] == 'segmentation':
        for model, columns in document['results'].items():
            parts.append(f'<h2>Per-class IoU: {html.escape(model)}</h2>{iou_bar_chart(columns)}')
    groups = group_lines(document)
    if groups:
        parts.append('<h2>Scores per group</h2><ul>')
        parts += [f'<li>{html.escape(model)}, {html.escape(line)}</li>' for model, line in groups]
        parts.append('</ul>')
    parts.append('<h2>Latency per stage</h2>')
    for key, stages in document['latency_ms'].items():
        for stage, values in stages.items():
            parts.append(latency_histogram(values['values_ms'], f'{key} {stage} (mean {values["mean_ms"]:.1f} ms)'))
    if samples:
        parts.append('<h2>Samples</h2>')
        for row in samples:
            parts.append(f'<h3>{html.escape(row["frame"])}</h3><div>' + ''.join(
                f'<figure style="display:inline-block"><img src="{html.escape(path)}" width="{SAMPLE_WIDTH}">'
                f'<figcaption>{html.escape(t)}</figcaption></figure>' for t, path in row['images']) + '</div>')
    parts.append('</body></html>')
    return '\n'.join(parts)


def write_reports(out: pathlib.Path, document: dict, samples: Sequence[dict]) -> None:
    """Write metrics.json, report.md and report.html into `out`."""
    write_metrics(out, document)
    write_text_atomic(out / 'report.md', render_markdown(document, samples))
    write_text_atomic(out / 'report.html', render_html(document, samples))
