"""Demo camera process: publishes the frames of a manifest over DDS and paces itself.

Run by `ttm-ros demo`; not a user command. It publishes reliable `sensor_msgs/Image`
(folder frames as rgb8, stamped with the current time, as a camera driver does) or the
bag's own messages, keeping at most `--window` frames in flight. A frame counts as done
when the node's timing message for its stamp arrives, which it publishes for processed
and failed frames alike. With `--detection-done-topic` (the detection node's timing
topic), a frame the TTM node processed is done once the detection node's timing message
for its stamp arrives too. When that message reports a failure, or none arrives within
`--detection-timeout` seconds (a stopped detection node), the camera publishes
"<stamp_ns> <reason>" on `--failures-topic` and goes on. Before each frame it publishes
"<stamp_ns> <frame name>" on the names topic, so the recorder can name the outputs.

Usage: python -m ttm_ros.demo.publisher MANIFEST --camera-topic T --done-topic D --names-topic N
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from typing import Dict, Set

import cv2
import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header, String

from ttm_ros.demo.sources import iterate_bag
from ttm_ros.ros.image_msgs import rgb_to_image_msg


def wait_until(node: Node, condition, timeout: float, what: str) -> None:
    """Spin `node` until `condition()` holds; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out after {timeout:.0f} s waiting for {what}')
        rclpy.spin_once(node, timeout_sec=0.05)


def stamp_of(msg) -> int:
    """Return the header stamp of `msg` in nanoseconds."""
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


class FrameResults:
    """Completion state of the published frames: TTM timing, then detection timing when expected.

    `detection_timeout` counts from the TTM node's timing message, because the
    detection node starts on a frame only once the TTM node has published its
    pseudo-source image. A frame the TTM node failed on never reaches the detection node.
    """

    def __init__(self, expect_detections: bool, detection_timeout: float, report_failure):
        self.expect_detections = expect_detections
        self.detection_timeout = detection_timeout
        self.report_failure = report_failure
        self.ttm_done: Dict[int, float] = {}  # stamp -> monotonic time of the timing message
        self.ttm_failed: Set[int] = set()
        self.detected: Set[int] = set()
        self.given_up: Set[int] = set()

    def on_timing(self, msg: DiagnosticArray) -> None:
        stamp = stamp_of(msg)
        self.ttm_done[stamp] = time.monotonic()
        if msg.status and msg.status[0].level == DiagnosticStatus.ERROR:
            self.ttm_failed.add(stamp)

    def on_detection_timing(self, msg: DiagnosticArray) -> None:
        stamp = stamp_of(msg)
        self.detected.add(stamp)
        if msg.status and msg.status[0].level == DiagnosticStatus.ERROR:
            self.report_failure(stamp, f'the detection node {msg.status[0].message}')

    def done(self, stamp: int) -> bool:
        """Return True when nothing more is expected for `stamp` (gives up after the timeout)."""
        if stamp not in self.ttm_done:
            return False
        if not self.expect_detections or stamp in self.ttm_failed or stamp in self.detected \
                or stamp in self.given_up:
            return True
        waited = time.monotonic() - self.ttm_done[stamp]
        if waited > self.detection_timeout:
            self.given_up.add(stamp)
            self.report_failure(stamp, f'no detection result {waited:.0f} s after the TTM node '
                                       'finished the frame')
            return True
        return False


def folder_messages(manifest: dict, clock):
    """Yield (frame entry, Image) for every frame of a folder, stamped with `clock` now."""
    for entry in manifest['frames']:
        bgr = cv2.imread(entry['path'], cv2.IMREAD_COLOR)
        if bgr is None:
            raise RuntimeError(f"cannot read image {entry['path']}")
        header = Header(stamp=clock.now().to_msg(), frame_id=entry['frame_id'])
        yield entry, rgb_to_image_msg(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), header)


def bag_messages(manifest: dict):
    """Yield (frame entry, message) for every frame of a bag manifest, unchanged."""
    entries = iter(manifest['frames'])
    for _, _, msg in iterate_bag(pathlib.Path(manifest['input']), manifest['topic']):
        yield next(entries), msg


def _failure_reporter(node: Node, topic: str, frames: int):
    """Return a function that reports a frame without detections on stderr and `topic`."""
    publisher = node.create_publisher(String, topic, QoSProfile(
        depth=frames + 1, reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL)) if topic else None

    def report(stamp: int, reason: str) -> None:
        print(f'camera: frame {stamp}: {reason}', file=sys.stderr, flush=True)
        if publisher is not None:
            publisher.publish(String(data=f'{stamp} {reason}'))
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('manifest', type=pathlib.Path)
    parser.add_argument('--camera-topic', required=True)
    parser.add_argument('--done-topic', required=True,
                        help="the node's per-frame timing topic: one message per processed or failed frame")
    parser.add_argument('--names-topic', required=True,
                        help='std_msgs/String topic that maps each stamp to its frame name')
    parser.add_argument('--clock', action='store_true',
                        help="publish /clock with each frame's header stamp before the frame (use_sim_time)")
    parser.add_argument('--detection-done-topic', default='',
                        help="the detection node's per-frame timing topic; empty: no detection node")
    parser.add_argument('--failures-topic', default='',
                        help='std_msgs/String topic for "<stamp_ns> <reason>" of frames without detections')
    parser.add_argument('--detection-timeout', type=float, default=60.0,
                        help='seconds to wait for the detection result of a frame after its TTM result')
    parser.add_argument('--window', type=int, default=2, help='frames in flight at most')
    parser.add_argument('--frame-timeout', type=float, default=300.0,
                        help='seconds to wait for one frame result before going on')
    args = parser.parse_args(argv)
    manifest = json.loads(args.manifest.read_text())
    compressed = manifest.get('message_type') == 'sensor_msgs/msg/CompressedImage'

    rclpy.init()
    node = rclpy.create_node('ttm_demo_camera')
    reliable = QoSProfile(depth=max(args.window, 1) + 1, reliability=ReliabilityPolicy.RELIABLE,
                          history=HistoryPolicy.KEEP_LAST)
    # A CompressedImage goes to <topic>/compressed, where the node subscribes to it.
    camera_topic = args.camera_topic.rstrip('/') + '/compressed' if compressed else args.camera_topic
    publisher = node.create_publisher(CompressedImage if compressed else Image, camera_topic, reliable)
    names = node.create_publisher(String, args.names_topic, QoSProfile(
        depth=len(manifest['frames']) + 1, reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL))
    clock = None
    if args.clock:
        from rosgraph_msgs.msg import Clock
        clock = node.create_publisher(Clock, '/clock', QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    results = FrameResults(bool(args.detection_done_topic), args.detection_timeout,
                           _failure_reporter(node, args.failures_topic, len(manifest['frames'])))
    results_profile = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(DiagnosticArray, args.done_topic, results.on_timing, results_profile)
    if args.detection_done_topic:
        node.create_subscription(DiagnosticArray, args.detection_done_topic,
                                 results.on_detection_timing, results_profile)
    try:
        wait_until(node, lambda: publisher.get_subscription_count() > 0, 60, 'the TTM node')
        wait_until(node, lambda: node.count_publishers(args.done_topic) > 0, 60,
                   f'a publisher on {args.done_topic}')
        if args.detection_done_topic:
            wait_until(node, lambda: node.count_publishers(args.detection_done_topic) > 0, 60,
                       f'the detection node on {args.detection_done_topic}')
        wait_until(node, lambda: names.get_subscription_count() > 0, 60,
                   f'the recorder on {args.names_topic}')
        time.sleep(0.5)  # Let the reliable timing subscription finish matching.
        messages = bag_messages(manifest) if manifest['source'] == 'bag' \
            else folder_messages(manifest, node.get_clock())
        sent = []
        for entry, msg in messages:
            stamp = stamp_of(msg)
            wait_until(node, lambda: len([s for s in sent if not results.done(s)]) < args.window,
                       args.frame_timeout, f'results of frames {[s for s in sent if not results.done(s)]}')
            names.publish(String(data=f"{stamp} {entry['name']}"))
            if clock is not None:
                clock.publish(Clock(clock=msg.header.stamp))
            publisher.publish(msg)
            sent.append(stamp)
            print(f"published {entry['name']}", flush=True)
        wait_until(node, lambda: all(results.done(s) for s in sent), args.frame_timeout,
                   'the last results')
        return 0
    except TimeoutError as error:
        print(f'camera: {error}', file=sys.stderr, flush=True)
        return 2
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    raise SystemExit(main())
