"""`ttm-ros demo` on the real frames: three processes, saved masks, summary.json.

The scores in summary.json are checked against an independent recomputation from the
saved mask PNGs and the label files, written here with plain numpy.
"""

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from independent_scores import independent_scores
from ros_harness import configure_ros_environment

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CITYSCAPES_COLORS = [(128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
                     (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0),
                     (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0),
                     (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32)]


def read_label(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image.ndim == 2:
        return np.where(image > 18, 255, image).astype(np.uint8)
    rgb = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)
    label = np.full(rgb.shape[:2], 255, np.uint8)
    for train_id, color in enumerate(CITYSCAPES_COLORS):
        label[(rgb == color).all(axis=-1)] = train_id
    return label


def run_demo(arguments, out, logs):
    configure_ros_environment(logs)
    completed = subprocess.run([sys.executable, '-m', 'ttm_ros.cli', 'demo', '--out', str(out),
                                *arguments], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads((out / 'summary.json').read_text())


def test_demo_summary_matches_masks(shared_data, tmp_path):
    frames = shared_data / 'acdc-mooss-1024x512'
    summary = run_demo(['--input', str(frames / 'images'), '--labels', str(frames / 'labels')],
                       tmp_path / 'out', tmp_path / 'logs')

    assert summary['frames_complete'] == summary['frames_total'] == 3
    names = [frame['name'] for frame in summary['frames']]
    assert sorted(names) == ['GOPR0122_frame_000234', 'GP010376_frame_000129', 'zurich_000087_000019']
    for frame in summary['frames']:
        assert frame['problems'] == []
        assert set(frame['latency_ms']) >= {'translate', 'segment_original', 'segment_translated',
                                            'fuse', 'decode', 'publish'}
    for mode, suffix in (('base', 'base_mask'), ('ttm', 'ttm_mask'), ('fused', 'fused_mask')):
        pairs = []
        for name in names:
            prediction = cv2.imread(str(tmp_path / 'out' / f'{name}_{suffix}.png'), cv2.IMREAD_UNCHANGED)
            label_path = next((frames / 'labels').glob(f'{name}_*'))
            assert prediction.shape == (512, 1024)
            pairs.append((prediction, read_label(label_path)))
        miou, accuracy, _ = independent_scores(pairs)
        assert summary['scores'][mode]['miou'] == pytest.approx(miou, abs=1e-12)
        assert summary['scores'][mode]['pixel_accuracy'] == pytest.approx(accuracy, abs=1e-12)
    print('demo scores:', {mode: round(s['miou'], 4) for mode, s in summary['scores'].items()})


def test_demo_on_bag_matches_folder(shared_data, tmp_path):
    """The same frames as a rosbag2 (mcap) give the same masks and scores as the folder."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    source = shared_data / 'acdc-mooss-1024x512'
    images = sorted((source / 'images').glob('*.png'))
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    Image, Header, Time = (typestore.types[name] for name in (
        'sensor_msgs/msg/Image', 'std_msgs/msg/Header', 'builtin_interfaces/msg/Time'))
    bag = tmp_path / 'drive'
    labels = tmp_path / 'labels'
    labels.mkdir()
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection('/camera/image_raw', Image.__msgtype__, typestore=typestore)
        for index, path in enumerate(images):
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            stamp = 1_700_000_000 + index
            message = Image(header=Header(stamp=Time(sec=stamp, nanosec=0), frame_id='front'),
                            height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8',
                            is_bigendian=0, step=rgb.shape[1] * 3, data=rgb.reshape(-1))
            writer.write(connection, stamp * 10**9, typestore.serialize_cdr(message, Image.__msgtype__))
            label = next((source / 'labels').glob(path.name.split('_rgb_anon')[0].split('_leftImg8bit')[0] + '_*'))
            shutil.copy(label, labels / f'{index:06d}_gtFine_labelTrainIds.png')

    from_bag = run_demo(['--input', str(bag), '--labels', str(labels)], tmp_path / 'bag_out',
                        tmp_path / 'logs')
    from_folder = run_demo(['--input', str(source / 'images'), '--labels', str(source / 'labels')],
                           tmp_path / 'folder_out', tmp_path / 'logs')

    assert from_bag['frames_complete'] == 3
    assert [f['stamp_ns'] for f in from_bag['frames']] == [(1_700_000_000 + i) * 10**9 for i in range(3)]
    for mode in ('base', 'ttm', 'fused'):
        assert from_bag['scores'][mode]['miou'] == pytest.approx(from_folder['scores'][mode]['miou'], abs=1e-12)
    for index, path in enumerate(images):
        name = path.name.split('_rgb_anon')[0].split('_leftImg8bit')[0]
        bag_mask = cv2.imread(str(tmp_path / 'bag_out' / f'{index:06d}_fused_mask.png'), cv2.IMREAD_UNCHANGED)
        folder_mask = cv2.imread(str(tmp_path / 'folder_out' / f'{name}_fused_mask.png'), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(bag_mask, folder_mask)
