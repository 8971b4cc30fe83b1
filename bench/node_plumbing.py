"""Cost of the node's plumbing per frame, as a ratio to a bare rclpy publish/subscribe.

Usage: python bench/node_plumbing.py [--width 1280] [--height 720] [--frames 50]

Measured in one process, on one frame size:
- bare:     publish one rgb8 Image and receive it in a subscription (DDS, this process),
            the least any image node pays per frame;
- plumbing: what the TTM node adds around the models: decode the received message,
            resize to a working size of half the area and back, fuse two 19-class
            probability maps and take the argmax mask, build the colour mask and overlay, encode the
            five output messages and publish them.
The models (translation, segmentation) are not included: `translate_*` and `segment_*`
timings in diagnostics cover them. Every line prints milliseconds and the ratio to bare.
Run with the loopback Fast DDS profile (config/fastdds/large_images_localhost.xml) and
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, as the tests do.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Callable, Dict, List

import numpy as np


def time_ms(function: Callable[[], object], repeats: int) -> float:
    """Return the median duration of `function` in milliseconds after one warm-up call."""
    function()
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        durations.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(durations)


def plumbing_stages(width: int, height: int) -> Dict[str, Callable[[], object]]:
    """Return the plumbing stages as zero-argument callables on one synthetic frame."""
    from std_msgs.msg import Header

    from ttm_ros.core import labels, sizing
    from ttm_ros.core.fusion import fuse_probabilities
    from ttm_ros.core.pipeline import probabilities_to_mask
    from ttm_ros.ros.image_msgs import image_from_msg, mono_to_image_msg, rgb_to_image_msg

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    header = Header(frame_id='camera')
    message = rgb_to_image_msg(rgb, header)
    # Half the frame's area, so the resize is not a no-op at any frame size.
    working = sizing.pick_working_size(height, width, height * width // 2)
    p_original = rng.random((19, height, width), dtype=np.float32)
    p_translated = rng.random((19, height, width), dtype=np.float32)
    mask = probabilities_to_mask(p_original)

    def fuse_and_mask():
        return probabilities_to_mask(fuse_probabilities(p_original, p_translated, 0.5))

    def encode_outputs():
        colors = labels.train_ids_to_color(mask)
        overlay = labels.overlay(rgb, mask, 0.5)
        return [rgb_to_image_msg(rgb, header), mono_to_image_msg(mask, header),
                rgb_to_image_msg(colors, header), rgb_to_image_msg(overlay, header),
                mono_to_image_msg(mask, header)]

    return {
        'decode': lambda: image_from_msg(message).copy(),
        'resize to half area and back': lambda: sizing.from_working(
            sizing.to_working(rgb, working), height, width),
        'fuse + argmax mask': fuse_and_mask,
        'colour mask, overlay, 5 messages': encode_outputs,
    }


def bare_round_trip_ms(width: int, height: int, frames: int) -> Dict[str, float]:
    """Return the median publish-to-callback time of one rgb8 Image, and of five."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from ttm_ros.ros.image_msgs import rgb_to_image_msg

    rclpy.init()
    node = rclpy.create_node('bench_plumbing')
    profile = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    publishers = [node.create_publisher(Image, f'bench/image_{i}', profile) for i in range(5)]
    received = threading.Semaphore(0)
    for i in range(5):
        node.create_subscription(Image, f'bench/image_{i}', lambda _: received.release(), profile)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    while any(p.get_subscription_count() == 0 for p in publishers):
        time.sleep(0.05)
    time.sleep(0.5)

    message = rgb_to_image_msg(np.zeros((height, width, 3), np.uint8), Header(frame_id='camera'))

    def round_trip(count: int) -> None:
        for publisher in publishers[:count]:
            publisher.publish(message)
        for _ in range(count):
            if not received.acquire(timeout=5):
                raise TimeoutError('an image was not received within 5 s')

    results = {'bare publish+receive, 1 image': time_ms(lambda: round_trip(1), frames),
               'bare publish+receive, 5 images': time_ms(lambda: round_trip(5), frames)}
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    return results


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--frames', type=int, default=50)
    args = parser.parse_args(argv)

    bare = bare_round_trip_ms(args.width, args.height, args.frames)
    baseline = bare['bare publish+receive, 1 image']
    print(f'frame {args.width}x{args.height}, median of {args.frames} runs')
    for name, value in bare.items():
        print(f'  {name:<36} {value:8.2f} ms   {value / baseline:6.2f} x bare')
    total = 0.0
    for name, stage in plumbing_stages(args.width, args.height).items():
        value = time_ms(stage, args.frames)
        total += value
        print(f'  {name:<36} {value:8.2f} ms   {value / baseline:6.2f} x bare')
    total += bare['bare publish+receive, 5 images']
    print(f'  {"plumbing total (with 5 publishes)":<36} {total:8.2f} ms   {total / baseline:6.2f} x bare')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
