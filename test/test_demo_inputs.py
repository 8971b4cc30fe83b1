"""`ttm-ros demo` on awkward inputs: compressed bags, unreadable files, failed frames.

Uses the small real Cityscapes frame (256x128) so each run takes a few seconds.
"""

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ros_harness import configure_ros_environment

pytestmark = [pytest.mark.ros, pytest.mark.slow]
FRAME = 'cityscapes-mmseg-tiny/frankfurt_000000_000294_leftImg8bit.png'


def demo(tmp_path, *arguments, expect_code=0):
    configure_ros_environment(tmp_path / 'logs')
    completed = subprocess.run([sys.executable, '-m', 'ttm_ros.cli', 'demo', '--out', str(tmp_path / 'out'),
                                '--timeout', '300', *arguments],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == expect_code, completed.stdout + completed.stderr
    summary_path = tmp_path / 'out' / 'summary.json'
    return (json.loads(summary_path.read_text()) if summary_path.is_file() else None), completed


def write_bag(path, frames, compressed=False, encodings=None):
    """Write a CompressedImage (JPEG) or Image bag of `frames` (RGB arrays) with rosbags."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    names = ('sensor_msgs/msg/CompressedImage' if compressed else 'sensor_msgs/msg/Image',
             'std_msgs/msg/Header', 'builtin_interfaces/msg/Time')
    message_type, Header, Time = (store.types[name] for name in names)
    with Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        connection = writer.add_connection('/front/image_raw', message_type.__msgtype__, typestore=store)
        for index, rgb in enumerate(frames):
            header = Header(stamp=Time(sec=1_700_000_100 + index, nanosec=0), frame_id='front')
            if compressed:
                data = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].reshape(-1)
                message = message_type(header=header, format='rgb8; jpeg compressed bgr8', data=data)
            else:
                encoding = (encodings or {}).get(index, 'rgb8')
                channels = 2 if encoding == '16UC1' else 3
                data = rgb.reshape(-1) if channels == 3 else np.zeros(rgb.shape[0] * rgb.shape[1] * 2, np.uint8)
                message = message_type(header=header, height=rgb.shape[0], width=rgb.shape[1],
                                       encoding=encoding, is_bigendian=0,
                                       step=rgb.shape[1] * channels, data=data)
            writer.write(connection, (1_700_000_100 + index) * 10**9,
                         store.serialize_cdr(message, message_type.__msgtype__))


def test_compressed_bag_demo(shared_data, tmp_path):
    rgb = cv2.cvtColor(cv2.imread(str(shared_data / FRAME)), cv2.COLOR_BGR2RGB)
    write_bag(tmp_path / 'bag', [rgb, rgb[:, ::-1].copy()], compressed=True)
    summary, _ = demo(tmp_path, '--input', str(tmp_path / 'bag'))
    assert summary['frames_complete'] == 2
    assert [frame['stamp_ns'] for frame in summary['frames']] == [
        (1_700_000_100 + i) * 10**9 for i in range(2)]
    assert not any(stage.startswith('age_') for stage in summary['latency_ms'])


def test_failed_frame_in_bag_is_reported(shared_data, tmp_path):
    rgb = cv2.cvtColor(cv2.imread(str(shared_data / FRAME)), cv2.COLOR_BGR2RGB)
    write_bag(tmp_path / 'bag', [rgb, rgb, rgb], encodings={1: '16UC1'})
    summary, completed = demo(tmp_path, '--input', str(tmp_path / 'bag'), expect_code=1)
    assert summary['frames_failed'] == ['000001']
    assert summary['frames_complete'] == 2
    assert '16UC1' in summary['frames'][1]['failed']
    assert 'failed in the node: 000001' in completed.stdout


def test_unreadable_image_skipped(shared_data, tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    shutil.copy(shared_data / FRAME, folder / 'a_leftImg8bit.png')
    (folder / 'b_leftImg8bit.png').write_bytes((shared_data / FRAME).read_bytes()[:300])
    shutil.copy(shared_data / FRAME, folder / 'c_leftImg8bit.png')
    summary, completed = demo(tmp_path, '--input', str(folder), '-p', 'output.overlay=false')
    assert summary['frames_complete'] == summary['frames_total'] == 2
    assert [entry['path'] for entry in summary['skipped_inputs']] == [str(folder / 'b_leftImg8bit.png')]
    assert not (tmp_path / 'out' / 'a_overlay.png').exists()
    assert 'skipped input' in completed.stdout


@pytest.mark.parametrize('override, fragment', [
    ('fusion.weight=2.0', 'fusion.weight'),
    ('fusion.wieght=0.5', "unknown parameter 'fusion.wieght'"),
    ('evaluation_mode=false', 'the demo needs evaluation_mode=true'),
])
def test_invalid_override_rejected_before_start(shared_data, tmp_path, override, fragment):
    summary, completed = demo(tmp_path, '--input', str(shared_data / 'cityscapes-mmseg-tiny'),
                              '-p', override, expect_code=2)
    assert summary is None
    assert fragment in completed.stderr
    assert 'Traceback' not in completed.stderr
