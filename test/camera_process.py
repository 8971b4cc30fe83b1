"""Test camera: a separate process that publishes hand-built frames described in JSON.

Usage: python test/camera_process.py SPEC.json

SPEC keys: topic, transport (raw|compressed), reliability (reliable|best_effort),
rate_hz, frames (list of {kind, width, height, sec, nanosec, frame_id}), repeat_for_s
(optional: keep publishing the frame list, restamped with the current time, for that
many seconds), wait_for_subscribers (default 1). Prints "PUBLISHED <n>" at the end.
"""

import json
import sys
import time

import cv2
import numpy as np
import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image


def pattern(width: int, height: int) -> np.ndarray:
    """Return a deterministic RGB test pattern with edges and colours."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)),
                    ((x // 8 + y // 8) % 2) * 200 + 20], axis=-1)
    return rgb.astype(np.uint8)


def build_message(frame: dict):
    """Return the Image or CompressedImage of one frame description."""
    kind, width, height = frame['kind'], frame['width'], frame['height']
    rgb = pattern(width, height)
    if kind in ('jpeg', 'png', 'jpeg_corrupt', 'jpeg_truncated'):
        msg = CompressedImage()
        fmt = 'png' if kind == 'png' else 'jpeg'
        ok, data = cv2.imencode('.' + fmt, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        data = data.tobytes()
        if kind == 'jpeg_corrupt':
            data = data[:20] + bytes(200) + data[220:]
        if kind == 'jpeg_truncated':
            data = data[: len(data) // 2]
        msg.format = f'rgb8; {fmt} compressed bgr8'
        msg.data = data
    else:
        msg = Image(width=width, height=height)
        if kind == 'rgb8':
            msg.encoding, msg.step, data = 'rgb8', width * 3, rgb.tobytes()
        elif kind == 'bgr8_padded':
            padded = np.zeros((height, width * 3 + 7), np.uint8)
            padded[:, :width * 3] = rgb[:, :, ::-1].reshape(height, -1)
            msg.encoding, msg.step, data = 'bgr8', width * 3 + 7, padded.tobytes()
        elif kind == 'mono16_big_endian':
            mono = (rgb[:, :, 0].astype('>u2') << 8)
            msg.encoding, msg.step, msg.is_bigendian, data = 'mono16', width * 2, 1, mono.tobytes()
        elif kind == 'depth_16uc1':
            msg.encoding, msg.step, data = '16UC1', width * 2, bytes(width * height * 2)
        elif kind == 'truncated_rgb8':
            msg.encoding, msg.step, data = 'rgb8', width * 3, rgb.tobytes()[: width * 3 * (height // 2)]
        elif kind == 'empty':
            msg.width = msg.height = 0
            msg.encoding, msg.step, data = 'rgb8', 0, b''
        else:
            raise ValueError(f'unknown frame kind {kind!r}')
        msg.data = data
    msg.header.stamp.sec, msg.header.stamp.nanosec = frame['sec'], frame['nanosec']
    msg.header.frame_id = frame['frame_id']
    return msg


def main() -> int:
    spec = json.loads(open(sys.argv[1]).read())
    rclpy.init()
    node = rclpy.create_node('test_camera')
    reliability = (ReliabilityPolicy.RELIABLE if spec['reliability'] == 'reliable'
                   else ReliabilityPolicy.BEST_EFFORT)
    compressed = spec.get('transport') == 'compressed'
    topic = spec['topic'] + ('/compressed' if compressed else '')
    publisher = node.create_publisher(CompressedImage if compressed else Image, topic,
                                      QoSProfile(depth=10, reliability=reliability,
                                                 history=HistoryPolicy.KEEP_LAST))
    deadline = time.monotonic() + 60
    while publisher.get_subscription_count() < spec.get('wait_for_subscribers', 1):
        if time.monotonic() > deadline:
            print('NO SUBSCRIBER', flush=True)
            return 2
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(1.0)  # Discovery completes on both sides before the first frame.

    messages = [build_message(frame) for frame in spec['frames']]
    period = 1.0 / spec['rate_hz']
    count = 0
    end = time.monotonic() + spec.get('repeat_for_s', 0)
    next_time = time.monotonic()
    while True:
        for msg in messages:
            if spec.get('repeat_for_s'):
                msg.header.stamp = node.get_clock().now().to_msg()
            publisher.publish(msg)
            count += 1
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))
        if time.monotonic() >= end:
            break
    time.sleep(0.5)
    print(f'PUBLISHED {count}', flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
