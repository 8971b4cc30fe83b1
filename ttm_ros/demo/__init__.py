"""`ttm-ros demo`: the TTM node on real frames over real DDS, with scores.

Three processes talk over DDS on loopback, as on a robot:
1. the TTM node (`ttm-ros run`, evaluation mode: every frame, all masks and timings);
2. a recorder (`ttm_ros.demo.collector`) that files every output by header stamp;
3. a camera (`ttm_ros.demo.publisher`) that publishes the frames of a folder or bag.
Then `summary.json` is computed from the saved masks (see `ttm_ros.demo.summary`).
With `detection`, the node process also runs the detection node (`ttm-ros run
--detection true`, evaluation mode too), the recorder saves its boxes and overlay, and
summary.json gains a `detection` section (see `ttm_ros.demo.detection`).

The processes share a ROS_DOMAIN_ID (random unless set), keep discovery on localhost
and load the loopback Fast DDS profile for large images unless
FASTDDS_DEFAULT_PROFILES_FILE is already set.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import random
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import yaml

from ttm_ros.child_process import ChildProcess
from ttm_ros.core import labels
from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros import topics
from ttm_ros.core.parameters import checked_overrides, checked_values, defaults
from ttm_ros.demo import detection, summary
from ttm_ros.demo.summary import IMAGE_OUTPUTS
from ttm_ros.demo.sources import FrameRef, is_bag, iterate_bag, list_frames
from ttm_ros.launch_description import yaml_scalar
from ttm_ros.paths import resolve_config

NAMESPACE = '/ttm_demo'
CAMERA_TOPIC = NAMESPACE + '/camera/image_raw'
NAMES_TOPIC = NAMESPACE + '/camera/frame_names'
DETECTION_FAILURES_TOPIC = NAMESPACE + '/camera/detection_failures'
#: Node parameters the demo needs: every frame, the masks of every mode, and one
#: timing message per frame from each node (processed or failed).
REQUIRED_PARAMETERS = {'evaluation_mode': True, 'output.all_masks': True, 'output.timing': True}
#: Node parameters the demo sets unless the user overrides them.
DEFAULT_PARAMETERS = {'input.qos.reliability': 'reliable', 'input.qos.depth': 10}


@dataclasses.dataclass
class DemoOptions:
    """Options of one demo run (the `ttm-ros demo` command line)."""

    input: pathlib.Path
    out: pathlib.Path
    labels: Optional[pathlib.Path] = None
    profile: str = 'cpu'
    parameters: Dict[str, object] = dataclasses.field(default_factory=dict)
    topic: str = ''
    limit: int = 0
    timeout: float = 3600.0
    # Replay time: the camera publishes /clock from the bag's header stamps and the
    # node runs with use_sim_time (bag input only).
    use_sim_time: bool = False
    # Also run the detection node. `boxes` (a COCO JSON file or VOC XML folder) scores it.
    detection: bool = False
    boxes: Optional[pathlib.Path] = None
    detection_timeout: float = 60.0


def run_demo(options: DemoOptions) -> dict:
    """Run the three processes on the input frames and return the summary (also written)."""
    # 1. Parameters, frames, labels and the manifest shared by the processes.
    parameters = node_parameters(options.parameters)
    settings = effective_parameters(options.profile, parameters)
    frames = list_frames(options.input, options.topic, options.limit)
    options.out.mkdir(parents=True, exist_ok=True)
    manifest, frames = _write_manifest(options, frames)
    label_paths = _match_labels(options.labels, frames)
    box_labels = _load_box_labels(options, frames)
    outputs = [topic for topic in IMAGE_OUTPUTS
               if settings['output.overlay'] or IMAGE_OUTPUTS[topic] != 'overlay']
    # The timing message, plus the detections, the detection node's timing message and
    # (with overlays) the detection overlay.
    expected_outputs = len(outputs) + 1
    # The detection node's overlay: its own override, else what every node gets.
    shared = {name: value for name, value in parameters.items() if not name.startswith('ttm_node.')}
    detection_overlay = bool(parameters.get('detection_node.output.overlay',
                                            effective_parameters(options.profile, shared)['output.overlay']))
    if options.detection:
        expected_outputs += 3 if detection_overlay else 2

    # 2. The node, the recorder, then the camera.
    environment = demo_environment(options.out)
    node_command = [sys.executable, '-m', 'ttm_ros.cli', 'run', '--profile', options.profile,
                    '--namespace', NAMESPACE, '--camera-topic', CAMERA_TOPIC,
                    '--transport', manifest['transport'], '--dds-profile', 'none',
                    '--use-sim-time', 'true' if options.use_sim_time else 'false',
                    '--detection', 'true' if options.detection else 'false']
    for name, value in parameters.items():
        node_command += ['-p', f'{name}={yaml_scalar(value)}']
    logs = options.out / 'logs'
    started = time.monotonic()
    recorder_command = [sys.executable, '-m', 'ttm_ros.demo.collector',
                        str(options.out / 'manifest.json'), str(options.out), '--namespace', NAMESPACE,
                        '--names-topic', NAMES_TOPIC, '--outputs', ','.join(outputs),
                        '--timeout', str(options.timeout)]
    camera_command = [sys.executable, '-m', 'ttm_ros.demo.publisher', str(options.out / 'manifest.json'),
                      '--camera-topic', CAMERA_TOPIC, '--done-topic', NAMESPACE + '/' + topics.TIMING,
                      '--names-topic', NAMES_TOPIC] + (['--clock'] if options.use_sim_time else [])
    if options.detection:
        recorder_command += ['--detection', '--failures-topic', DETECTION_FAILURES_TOPIC]
        recorder_command += ['--detection-overlay'] if detection_overlay else []
        camera_command += ['--detection-done-topic', NAMESPACE + '/' + topics.DETECTION_TIMING,
                           '--failures-topic', DETECTION_FAILURES_TOPIC,
                           '--detection-timeout', str(options.detection_timeout)]
    with ChildProcess('node', node_command, logs / 'node.log', environment) as node, \
            ChildProcess('recorder', recorder_command, logs / 'recorder.log', environment) as recorder:
        recorder.wait_for_line('READY', timeout=options.timeout, also_alive=[node])
        with ChildProcess('camera', camera_command, logs / 'camera.log', environment) as camera:
            _check_exit(camera, camera.wait(options.timeout, also_alive=[node]))
        _check_exit(recorder, recorder.wait(60.0))
    wall_s = time.monotonic() - started

    # 3. Scores from the saved masks, the side-by-side views and summary.json.
    return write_summary(options, frames, label_paths, wall_s, settings, manifest, expected_outputs,
                         box_labels)


def node_parameters(overrides: Dict[str, object]) -> Dict[str, object]:
    """Return the node parameters of a demo run: defaults, user overrides, requirements.

    Raises ConfigurationError when an override is unknown, invalid, or contradicts
    what the demo needs (every frame processed, the masks of every mode published).
    """
    overrides = checked_overrides(overrides)
    for name, value in REQUIRED_PARAMETERS.items():
        if name in overrides and overrides[name] != value:
            raise ConfigurationError(
                f'the demo needs {name}={yaml_scalar(value)}; remove -p {name}={yaml_scalar(overrides[name])}')
    return {**DEFAULT_PARAMETERS, **overrides, **REQUIRED_PARAMETERS}


def demo_environment(out_dir: pathlib.Path) -> Dict[str, str]:
    """Return the environment of the demo processes: private domain, loopback only."""
    environment = dict(os.environ)
    environment.setdefault('ROS_DOMAIN_ID', str(random.Random().randint(1, 100)))
    environment['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    environment.setdefault('ROS_LOG_DIR', str(out_dir / 'logs' / 'ros'))
    if not environment.get('FASTDDS_DEFAULT_PROFILES_FILE'):
        environment['FASTDDS_DEFAULT_PROFILES_FILE'] = str(
            resolve_config('large_images_localhost.xml', 'fastdds'))
    environment['PYTHONUNBUFFERED'] = '1'
    return environment


def write_summary(options: DemoOptions, frames: Sequence[FrameRef],
                  label_paths: Dict[str, pathlib.Path], wall_s: float,
                  settings: Dict[str, object], manifest: dict, expected_outputs: int,
                  box_labels=None) -> dict:
    """Score the saved masks and boxes, draw side-by-side views and write `summary.json`.

    `expected_outputs` is the number of outputs of a complete frame (timing included);
    `box_labels` is the `GroundTruth` of the frames when box labels were given.

    For bag input the header stamps are recording times, so the `age_*` stages (now
    minus stamp) do not describe the node and are left out of the latency summary.
    """
    collected = json.loads((options.out / 'collected.json').read_text())
    records = {record['name']: record for record in collected['frames']}
    names = [frame.name for frame in frames]
    scores = summary.score_frames(options.out, names, label_paths)
    frame_entries = []
    for frame in frames:
        record = records.get(frame.name, {})
        frame_entries.append({
            'name': frame.name,
            'stamp_ns': record.get('stamp_ns'),
            'latency_ms': record.get('timings_ms'),
            'fallback': record.get('fallback'),
            'failed': record.get('failed'),
            'outputs': sorted(record.get('outputs', {})),
            'problems': record.get('problems', []),
            'scores': scores['per_frame'].get(frame.name),
        })
        if options.detection:
            frame_entries[-1]['detection_failed'] = record.get('detection_failed')
            frame_entries[-1]['detection_latency_ms'] = record.get('detection_timings_ms')
    for frame, original in _originals(options, frames):
        _side_by_side(options.out, frame.name, original)
    def latency(key: str) -> dict:
        timings = [entry[key] for entry in frame_entries if entry.get(key)]
        if manifest['source'] == 'bag':
            timings = [{stage: value for stage, value in frame.items() if not stage.startswith('age_')}
                       for frame in timings]
        return summary.latency_summary(timings)

    result = {
        'input': str(options.input),
        'labels': str(options.labels) if options.labels else None,
        'profile': options.profile,
        'parameters': settings,
        'frames_total': len(frames),
        'frames_complete': sum(1 for e in frame_entries
                               if len(e['outputs']) == expected_outputs and not e['problems']),
        'frames_failed': [e['name'] for e in frame_entries if e['failed']],
        'frames_detection_failed': [e['name'] for e in frame_entries if e.get('detection_failed')],
        'skipped_inputs': manifest['skipped_inputs'],
        'wall_time_s': wall_s,
        'latency_ms': latency('latency_ms'),
        'scores': scores['overall'],
        'score_definitions': {
            'miou': 'mean IoU over the classes present in the labels (trainIds 0..18; 255 ignored; '
                    'a prediction of 255 on a labelled pixel is a miss)',
            'pixel_accuracy': 'correctly classified labelled pixels / labelled pixels',
            'modes': 'base: original frame; ttm: translated frame; fused: mean of both '
                     'probability maps weighted by fusion.weight',
        },
        'frames': frame_entries,
    }
    if options.detection:
        result['boxes'] = str(options.boxes) if options.boxes else None
        result['detection'] = detection.detection_column(options.out, names, box_labels)
        result['detection']['latency_ms'] = latency('detection_latency_ms')
    (options.out / 'summary.json').write_text(json.dumps(result, indent=1, allow_nan=True))
    return result


def effective_parameters(profile: str, overrides: Dict[str, object]) -> Dict[str, object]:
    """Return the TTM node's parameters for a run: defaults, profile file, overrides.

    Only the profile sections that apply to the TTM node (`/**`, `ttm_node`, with or
    without a namespace) and only TTM node parameters count. Raises ConfigurationError
    for an invalid value.
    """
    values = defaults()
    document = yaml.safe_load(resolve_config(profile).read_text()) or {}
    for key, section in document.items():
        if key.rstrip('/').split('/')[-1] in ('**', 'ttm_node'):
            # A `/**` section may also hold other nodes' parameters, which ttm_node ignores.
            values.update({name: value for name, value in
                           _flatten(section.get('ros__parameters', {})).items() if name in values})
    # A `ttm_node.`-qualified override is the TTM node's; `detection_node.` ones are not.
    overrides = {name[len('ttm_node.'):] if name.startswith('ttm_node.') else name: value
                 for name, value in overrides.items()}
    values.update({name: value for name, value in overrides.items() if name in values})
    return checked_values(values)


def _flatten(tree: dict, prefix: str = '') -> Dict[str, object]:
    flat: Dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f'{prefix}{key}.'))
        else:
            flat[prefix + key] = value
    return flat


def _load_box_labels(options: DemoOptions, frames: Sequence[FrameRef]):
    """Return the `GroundTruth` of `options.boxes` for the frames, or None without it."""
    if options.boxes is None:
        return None
    if not options.detection:
        raise ConfigurationError(f'--boxes {options.boxes} needs --detection, because box labels score the detection node')
    return detection.load_box_labels(options.boxes, [frame.name for frame in frames])


def _match_labels(label_dir: Optional[pathlib.Path], frames: Sequence[FrameRef]) -> Dict[str, pathlib.Path]:
    """Return {frame name: label path}; a bag frame's label may be named by its stamp."""
    if label_dir is None:
        return {}
    if not label_dir.is_dir():
        raise ConfigurationError(f'labels folder {label_dir} does not exist')
    available = labels.find_labels(label_dir)
    matched = {}
    for frame in frames:
        path = available.get(frame.name) or available.get(frame.stamp_key)
        if path is not None:
            matched[frame.name] = path
    if not matched:
        raise ConfigurationError(
            f'no label in {label_dir} matches a frame; labels are matched by frame id '
            f'(file name without dataset suffixes), e.g. {frames[0].name}_gtFine_labelTrainIds.png')
    return matched


def _write_manifest(options: DemoOptions,
                    frames: Sequence[FrameRef]) -> Tuple[dict, List[FrameRef]]:
    """Write manifest.json; return it and the frames, less the unreadable images."""
    bag = is_bag(options.input)
    entries: List[dict] = []
    skipped: List[dict] = []
    message_type = 'sensor_msgs/msg/Image'
    if bag:
        for frame, (_, msgtype, msg) in zip(frames, iterate_bag(options.input, options.topic)):
            message_type = msgtype
            height, width = _message_size(msg)
            entries.append({'name': frame.name, 'stamp_ns': frame.stamp_ns,
                            'frame_id': msg.header.frame_id, 'width': width, 'height': height})
    else:
        kept = []
        for frame in frames:
            image = cv2.imread(str(frame.path), cv2.IMREAD_COLOR)
            if image is None:
                skipped.append({'path': str(frame.path),
                                'reason': 'OpenCV cannot decode it (corrupt, truncated or not an image)'})
                continue
            kept.append(frame)
            entries.append({'name': frame.name, 'frame_id': 'camera', 'width': image.shape[1],
                            'height': image.shape[0], 'path': str(frame.path)})
        frames = kept
        if not frames:
            raise ConfigurationError(f'no readable image in {options.input}')
    manifest = {
        'source': 'bag' if bag else 'folder', 'input': str(options.input), 'topic': options.topic,
        'message_type': message_type,
        'transport': 'compressed' if message_type.endswith('CompressedImage') else 'raw',
        'frames': entries, 'skipped_inputs': skipped,
    }
    (options.out / 'manifest.json').write_text(json.dumps(manifest, indent=1))
    return manifest, frames


def _message_size(msg) -> tuple:
    if hasattr(msg, 'height'):
        return msg.height, msg.width
    from ttm_ros.ros.image_msgs import image_from_msg
    return image_from_msg(msg).shape[:2]


def _originals(options: DemoOptions, frames: Sequence[FrameRef]):
    """Yield (frame, original BGR image) for every frame, from its file or its bag message."""
    if not is_bag(options.input):
        for frame in frames:
            yield frame, cv2.imread(str(frame.path))
        return
    from ttm_ros.ros.image_msgs import image_from_msg
    for frame, (_, _, msg) in zip(frames, iterate_bag(options.input, options.topic)):
        try:
            yield frame, cv2.cvtColor(image_from_msg(msg), cv2.COLOR_RGB2BGR)
        except FrameError:
            yield frame, None  # The node rejected this frame too; summary.json gives the reason.


def _side_by_side(out_dir: pathlib.Path, name: str, original: np.ndarray) -> None:
    """Write `<frame>_side_by_side.jpg`: original | pseudo-source | fused overlay, then the
    detection overlay (boxes on the pseudo-source) when the frame has one."""
    views = [out_dir / f'{name}_{kind}.png' for kind in ('pseudo_source', 'overlay')]
    if not all(path.is_file() for path in views):
        return
    pseudo, overlay = (cv2.imread(str(path)) for path in views)
    if original is None or original.shape != pseudo.shape:
        original = np.zeros_like(pseudo)
    columns = [original, pseudo, overlay]
    boxes_view = out_dir / f'{name}_{detection.OVERLAY_SUFFIX}.png'
    if boxes_view.is_file():
        columns.append(cv2.imread(str(boxes_view)))
    cv2.imwrite(str(out_dir / f'{name}_side_by_side.jpg'), np.hstack(columns),
                [cv2.IMWRITE_JPEG_QUALITY, 90])


def _check_exit(process: ChildProcess, code: int) -> None:
    if code != 0:
        raise RuntimeError(process.failure())
