"""Demo camera process: publishes the frames of a manifest over DDS and paces itself.

Run by `ttm-ros demo`; not a user command. It publishes reliable `sensor_msgs/Image`
(folder frames as rgb8, stamped with the current time, as a camera driver does) or the
bag's own messages, keeping at most `--window` frames in flight. A frame counts as done
when the node's timing message for its stamp arrives, which it publishes for processed
and failed frames alike. Before each frame it publishes
"<stamp_ns> <frame name>" on the names topic, so the recorder can name the outputs.

Usage: python -m ttm_ros.demo.publisher MANIFEST --camera-topic T --done-topic D --names-topic N
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import cv2
import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from diagnostic_msgs.msg import DiagnosticArray
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
    done = set()
    node.create_subscription(DiagnosticArray, args.done_topic, lambda m: done.add(
        m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec), QoSProfile(
            depth=50, reliability=ReliabilityPolicy.RELIABLE))
    try:
        wait_until(node, lambda: publisher.get_subscription_count() > 0, 60, 'the TTM node')
        wait_until(node, lambda: node.count_publishers(args.done_topic) > 0, 60,
                   f'a publisher on {args.done_topic}')
        wait_until(node, lambda: names.get_subscription_count() > 0, 60,
                   f'the recorder on {args.names_topic}')
        time.sleep(0.5)  # Let the reliable timing subscription finish matching.
        messages = bag_messages(manifest) if manifest['source'] == 'bag' \
            else folder_messages(manifest, node.get_clock())
        sent = []
        for entry, msg in messages:
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            wait_until(node, lambda: len([s for s in sent if s not in done]) < args.window,
                       args.frame_timeout, f'results of frames {[s for s in sent if s not in done]}')
            names.publish(String(data=f"{stamp} {entry['name']}"))
            if clock is not None:
                clock.publish(Clock(clock=msg.header.stamp))
            publisher.publish(msg)
            sent.append(stamp)
            print(f"published {entry['name']}", flush=True)
        wait_until(node, lambda: all(s in done for s in sent), args.frame_timeout,
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
