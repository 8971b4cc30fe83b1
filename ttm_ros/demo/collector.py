"""Demo recorder process: stores every output of the TTM node for the frames of a manifest.

Run by `ttm-ros demo`; not a user command. For each frame it writes
`<frame>_pseudo_source.png`, `<frame>_fused_mask.png`, `<frame>_base_mask.png`,
`<frame>_ttm_mask.png` and `<frame>_overlay.png` into the output folder; with
`--detection`, also `<frame>_detections.json` (see `ttm_ros.demo.detection`) and
`<frame>_detection_overlay.png` of the detection node. It checks that each output's
header equals the input header, its size the input size, and that every box lies
inside the frame. A frame whose detections the camera gave up on (a message on
`--failures-topic`) counts as done. When every frame is complete, or on timeout, it
writes `collected.json` (per frame: stage timings, fallback, header, size and box
checks). It prints READY once all its topics are matched.

Usage: python -m ttm_ros.demo.collector MANIFEST OUT_DIR --namespace NS [--detection]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time
from typing import Dict, List

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from ttm_ros.demo import detection
from ttm_ros.demo.summary import IMAGE_OUTPUTS
from ttm_ros.ros.image_msgs import image_from_msg

TIMING_TOPIC = 'segmentation/timing'


class Collector:
    """Subscribes to the node outputs and files them under their frame's name.

    Outputs are matched to frames by header stamp; the stamp-to-name map comes from the
    camera's names topic. An output that arrives before its name waits in memory.
    """

    def __init__(self, node, manifest: dict, out_dir: pathlib.Path, namespace: str,
                 names_topic: str, image_outputs: Dict[str, str] = IMAGE_OUTPUTS,
                 detections: bool = False, failures_topic: str = '', detection_overlay: bool = False):
        self.node = node
        self.image_outputs = dict(image_outputs)
        self.wanted = set(self.image_outputs.values()) | {'timing'}
        self.out_dir = out_dir
        self.frames = {entry['name']: entry for entry in manifest['frames']}
        self.records: Dict[str, dict] = {name: {'outputs': {}, 'problems': []}
                                         for name in self.frames}
        self.names: Dict[int, str] = {}
        self.detection_failures: Dict[int, str] = {}
        self.waiting: List[tuple] = []
        profile = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE,
                             history=HistoryPolicy.KEEP_LAST)
        prefix = namespace.rstrip('/') + '/'
        self.subscriptions = []
        for topic, suffix in self.image_outputs.items():
            self.subscriptions.append(node.create_subscription(
                Image, prefix + topic, lambda msg, s=suffix: self.on_output(msg, s), profile))
        self.subscriptions.append(node.create_subscription(
            DiagnosticArray, prefix + TIMING_TOPIC, lambda msg: self.on_output(msg, 'timing'),
            profile))
        if detections:
            self._subscribe_detections(prefix, profile, detection_overlay)
        latched = QoSProfile(depth=len(self.frames) + 1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(String, names_topic, self.on_name, latched)
        if failures_topic:
            node.create_subscription(String, failures_topic, self.on_failure, latched)

    def _subscribe_detections(self, prefix: str, profile: QoSProfile, overlay: bool) -> None:
        from vision_msgs.msg import Detection2DArray

        self.wanted |= {detection.DETECTIONS_SUFFIX, detection.TIMING_SUFFIX}
        self.subscriptions.append(self.node.create_subscription(
            Detection2DArray, prefix + detection.DETECTIONS_TOPIC,
            lambda msg: self.on_output(msg, detection.DETECTIONS_SUFFIX), profile))
        self.subscriptions.append(self.node.create_subscription(
            DiagnosticArray, prefix + detection.TIMING_TOPIC,
            lambda msg: self.on_output(msg, detection.TIMING_SUFFIX), profile))
        if overlay:
            self.image_outputs[detection.OVERLAY_TOPIC] = detection.OVERLAY_SUFFIX
            self.wanted.add(detection.OVERLAY_SUFFIX)
            self.subscriptions.append(self.node.create_subscription(
                Image, prefix + detection.OVERLAY_TOPIC,
                lambda msg: self.on_output(msg, detection.OVERLAY_SUFFIX), profile))

    def matched(self) -> bool:
        return all(s.get_publisher_count() > 0 for s in self.subscriptions)

    def complete(self) -> bool:
        """Return True once every frame has all its outputs, or has failed in a node."""
        return all(self._frame_done(record) for record in self.records.values())

    def _frame_done(self, record: dict) -> bool:
        if record.get('failed'):
            return True
        wanted = self.wanted
        if record.get('detection_failed'):
            wanted = wanted - {detection.DETECTIONS_SUFFIX, detection.OVERLAY_SUFFIX, detection.TIMING_SUFFIX}
        return set(record['outputs']) >= wanted

    def on_failure(self, msg: String) -> None:
        """Record the camera's "<stamp_ns> <reason>" for a frame it stopped waiting for."""
        stamp, _, reason = msg.data.partition(' ')
        self.detection_failures[int(stamp)] = reason
        name = self.names.get(int(stamp))
        if name is not None:
            self.records[name]['detection_failed'] = reason

    def on_name(self, msg: String) -> None:
        stamp, _, name = msg.data.partition(' ')
        self.names[int(stamp)] = name
        if int(stamp) in self.detection_failures:
            self.records[name]['detection_failed'] = self.detection_failures[int(stamp)]
        waiting, self.waiting = self.waiting, []
        for output, suffix in waiting:
            self.on_output(output, suffix)

    def on_output(self, msg, suffix: str) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        name = self.names.get(stamp)
        if name is None:
            self.waiting.append((msg, suffix))
            return
        entry, record = self.frames[name], self.records[name]
        record['stamp_ns'] = stamp
        if msg.header.frame_id != entry['frame_id']:
            record['problems'].append(
                f'{suffix}: frame_id {msg.header.frame_id!r} != input {entry["frame_id"]!r}')
        if suffix == 'timing':
            self._store_timing(msg, record)
        elif suffix == detection.TIMING_SUFFIX:
            self._store_detection_timing(msg, record)
        elif suffix == detection.DETECTIONS_SUFFIX:
            self._store_detections(msg, entry, record)
        else:
            self._store_image(msg, suffix, entry, record)

    def _store_image(self, msg: Image, suffix: str, entry: dict, record: dict) -> None:
        if (msg.height, msg.width) != (entry['height'], entry['width']):
            record['problems'].append(f'{suffix}: size {msg.width}x{msg.height} != input '
                                      f'{entry["width"]}x{entry["height"]}')
        if msg.encoding == 'mono8':
            pixels = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, :msg.width]
        else:
            pixels = cv2.cvtColor(image_from_msg(msg), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(self.out_dir / f'{entry["name"]}_{suffix}.png'), pixels)
        record['outputs'][suffix] = msg.encoding

    def _store_detections(self, msg, entry: dict, record: dict) -> None:
        from ttm_ros.ros.detection_msgs import detections_from_msg

        detections = detections_from_msg(msg)
        record['problems'] += detection.boxes_outside(detections, entry['width'], entry['height'])
        document = detection.detections_document(detections, record['stamp_ns'], msg.header.frame_id,
                                                 entry['width'], entry['height'])
        detection.detections_path(self.out_dir, entry['name']).write_text(json.dumps(document, indent=1))
        record['outputs'][detection.DETECTIONS_SUFFIX] = 'vision_msgs/Detection2DArray'

    @staticmethod
    def _store_timing(msg: DiagnosticArray, record: dict) -> None:
        if not msg.status:
            record['problems'].append('timing: empty DiagnosticArray')
            return
        status = msg.status[0]
        if status.level == DiagnosticStatus.ERROR:
            record['failed'] = status.message
            return
        record['timings_ms'] = {kv.key[:-3]: float(kv.value) for kv in status.values
                                if kv.key.endswith('_ms')}
        record['fallback'] = None if status.message == 'ok' else status.message
        record['outputs']['timing'] = 'diagnostic_msgs/DiagnosticArray'

    @staticmethod
    def _store_detection_timing(msg: DiagnosticArray, record: dict) -> None:
        # A failure (level ERROR) reaches the record through the camera's failures topic.
        if msg.status and msg.status[0].level != DiagnosticStatus.ERROR:
            record['detection_timings_ms'] = {kv.key[:-3]: float(kv.value) for kv in msg.status[0].values
                                              if kv.key.endswith('_ms')}
            record['outputs'][detection.TIMING_SUFFIX] = 'diagnostic_msgs/DiagnosticArray'

    def report(self) -> dict:
        unmatched = sorted({m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec
                            for m, _ in self.waiting})
        return {'frames': [{'name': name, **record} for name, record in self.records.items()],
                'outputs_with_unknown_stamps': unmatched}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('manifest', type=pathlib.Path)
    parser.add_argument('out_dir', type=pathlib.Path)
    parser.add_argument('--namespace', default='/ttm_demo')
    parser.add_argument('--names-topic', required=True)
    parser.add_argument('--outputs', default=','.join(IMAGE_OUTPUTS),
                        help='comma-separated image topics to record (relative to the namespace)')
    parser.add_argument('--detection', action='store_true',
                        help='also record the detection node (detections and timing)')
    parser.add_argument('--detection-overlay', action='store_true',
                        help="with --detection, also wait for the detection node's overlay")
    parser.add_argument('--failures-topic', default='',
                        help='std_msgs/String topic of "<stamp_ns> <reason>" for frames without detections')
    parser.add_argument('--timeout', type=float, default=3600.0,
                        help='seconds to wait for every output before writing what arrived')
    args = parser.parse_args(argv)
    manifest = json.loads(args.manifest.read_text())
    args.out_dir.mkdir(parents=True, exist_ok=True)

    rclpy.init()
    node = rclpy.create_node('ttm_demo_recorder')
    wanted = args.outputs.split(',')
    unknown = sorted(set(wanted) - set(IMAGE_OUTPUTS))
    if unknown:
        parser.error(f'unknown output topics {unknown}; known: {", ".join(IMAGE_OUTPUTS)}')
    collector = Collector(node, manifest, args.out_dir, args.namespace, args.names_topic,
                          {topic: IMAGE_OUTPUTS[topic] for topic in wanted},
                          detections=args.detection, failures_topic=args.failures_topic,
                          detection_overlay=args.detection_overlay)
    deadline = time.monotonic() + args.timeout
    ready = False
    try:
        while not collector.complete() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
            if not ready and collector.matched():
                ready = True
                print('READY', flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        (args.out_dir / 'collected.json').write_text(json.dumps(collector.report(), indent=1))
        node.destroy_node()
        rclpy.try_shutdown()
    return 0 if collector.complete() else 3


if __name__ == '__main__':
    raise SystemExit(main())
