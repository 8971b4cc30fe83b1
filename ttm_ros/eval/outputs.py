"""`ttm-ros eval --record`: the frames and saved outputs of an evaluation as a rosbag2.

Topics, every message stamped with its frame's header stamp (bag frames) or
`1700000000 s + index / 10 Hz` (dataset frames):
- `/eval/camera/image_raw`: the original frame (rgb8);
- `/eval/<model>/<column>/mask`: mono8 trainId masks (segmentation);
- `/eval/<model>/<column>/color_mask`: the masks in Cityscapes colours (rgb8).
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import cv2

from ttm_ros.core import labels
from ttm_ros.eval.datasets import Dataset
from ttm_ros.eval.runner import EvalPlan, column_names, mask_path

DATASET_START_NS = 1_700_000_000 * 10**9
DATASET_PERIOD_NS = 100_000_000


def write_output_bag(bag: pathlib.Path, dataset: Dataset, plan: EvalPlan, frames: Sequence[str],
                     storage: str = 'mcap') -> None:
    """Write the frames and their saved masks to a new rosbag2 at `bag`."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    Image, Header, Time = (typestore.types[name] for name in (
        'sensor_msgs/msg/Image', 'std_msgs/msg/Header', 'builtin_interfaces/msg/Time'))
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    columns = column_names(dataset.task, plan.translators) if dataset.task == 'segmentation' else []
    samples = {sample.frame_id: sample for sample in dataset.samples}

    def message(pixels, encoding, stamp):
        channels = 1 if pixels.ndim == 2 else 3
        header = Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id='camera')
        return typestore.serialize_cdr(Image(header=header, height=pixels.shape[0], width=pixels.shape[1],
                                             encoding=encoding, is_bigendian=0, step=pixels.shape[1] * channels,
                                             data=pixels.reshape(-1)), Image.__msgtype__)

    with Writer(bag, version=9, storage_plugin=plugin) as writer:
        camera = writer.add_connection('/eval/camera/image_raw', Image.__msgtype__, typestore=typestore)
        connections = {}
        for model in plan.models:
            for column in columns:
                for kind in ('mask', 'color_mask'):
                    connections[(model.label, column, kind)] = writer.add_connection(
                        f'/eval/{model.label}/{column}/{kind}', Image.__msgtype__, typestore=typestore)
        for index, frame in enumerate(frames):
            sample = samples[frame]
            stamp = sample.stamp_ns if sample.stamp_ns is not None else DATASET_START_NS + index * DATASET_PERIOD_NS
            writer.write(camera, stamp, message(sample.load_image(), 'rgb8', stamp))
            for model in plan.models:
                for column in columns:
                    mask = cv2.imread(str(mask_path(plan.out, model.label, column, frame)), cv2.IMREAD_UNCHANGED)
                    writer.write(connections[(model.label, column, 'mask')], stamp, message(mask, 'mono8', stamp))
                    writer.write(connections[(model.label, column, 'color_mask')], stamp,
                                 message(labels.train_ids_to_color(mask), 'rgb8', stamp))
