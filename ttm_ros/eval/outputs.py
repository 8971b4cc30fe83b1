"""`ttm-ros eval --record`: the frames and saved outputs of an evaluation as a rosbag2.

Topics, every message stamped with its frame's header stamp (bag frames) or
`1700000000 s + index / 10 Hz` (dataset frames), header frame_id `camera`:
- `/eval/camera/image_raw`: the original frame (rgb8);
- `/eval/<model>/<column>/mask`: mono8 trainId masks (segmentation);
- `/eval/<model>/<column>/color_mask`: the masks in Cityscapes colours (rgb8);
- `/eval/<model>/<column>/detections`: vision_msgs/Detection2DArray (detection), box
  centre and size in pixels of the frame, one hypothesis with the label and score.

Classification results have no standard message and are not recorded. The
vision_msgs definitions are read from the installed package (`share/vision_msgs/msg`
under the Python prefix or an AMENT_PREFIX_PATH entry), so the bag carries the same
types as the detection node's topics.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
from typing import Dict, List, Sequence

import cv2
import numpy as np

from ttm_ros.core import labels
from ttm_ros.core.detectors.boxes import corners_to_center_size
from ttm_ros.core.errors import ConfigurationError
from ttm_ros.eval.bags import check_new_bag
from ttm_ros.eval.datasets import Dataset
from ttm_ros.eval.runner import EvalPlan, column_names, mask_path, prediction_path

DATASET_START_NS = 1_700_000_000 * 10**9
DATASET_PERIOD_NS = 100_000_000
IMAGE_TYPE = 'sensor_msgs/msg/Image'
DETECTIONS_TYPE = 'vision_msgs/msg/Detection2DArray'


def vision_msgs_definitions() -> Dict[str, str]:
    """Return {type name: .msg text} of the installed vision_msgs package.

    Raises ConfigurationError naming the searched folders when none has the definitions.
    """
    prefixes = [sys.prefix, *filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep))]
    for prefix in prefixes:
        folder = pathlib.Path(prefix) / 'share' / 'vision_msgs' / 'msg'
        if (folder / 'Detection2DArray.msg').is_file():
            return {f'vision_msgs/msg/{path.stem}': path.read_text() for path in sorted(folder.glob('*.msg'))}
    raise ConfigurationError(
        'recording detections needs the vision_msgs message definitions, but no share/vision_msgs/msg '
        f'folder was found under {", ".join(prefixes)}; run tools/build-vision-msgs.sh (pip environment) '
        'or install ros-$ROS_DISTRO-vision-msgs and source the ROS setup file')


def write_output_bag(bag: pathlib.Path, dataset: Dataset, plan: EvalPlan, frames: Sequence[str],
                     storage: str = 'mcap') -> None:
    """Write the frames and their saved masks or boxes to a new rosbag2 at `bag`."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    check_new_bag(bag)

    # 1. The message types: Image always, Detection2DArray for detection runs.
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    if dataset.task == 'detection':
        types = {}
        for name, text in vision_msgs_definitions().items():
            types.update(get_types_from_msg(text, name))
        typestore.register(types)
    messages = _MessageFactory(typestore)
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    columns = column_names(dataset.task, plan.translators) if dataset.task in ('segmentation', 'detection') else []
    samples = {sample.frame_id: sample for sample in dataset.samples}

    with Writer(bag, version=9, storage_plugin=plugin) as writer:
        # 2. One connection for the camera and per model, column and output.
        camera = writer.add_connection('/eval/camera/image_raw', IMAGE_TYPE, typestore=typestore)
        kinds = {'segmentation': (('mask', IMAGE_TYPE), ('color_mask', IMAGE_TYPE)),
                 'detection': (('detections', DETECTIONS_TYPE),)}.get(dataset.task, ())
        connections = {(model.label, column, kind): writer.add_connection(
            f'/eval/{model.label}/{column}/{kind}', message_type, typestore=typestore)
            for model in plan.models for column in columns for kind, message_type in kinds}

        # 3. Every frame and its outputs, all with the frame's stamp.
        for index, frame in enumerate(frames):
            sample = samples[frame]
            stamp = sample.stamp_ns if sample.stamp_ns is not None else DATASET_START_NS + index * DATASET_PERIOD_NS
            writer.write(camera, stamp, messages.image(sample.load_image(), 'rgb8', stamp))
            for model in plan.models:
                if dataset.task == 'detection':
                    outputs = json.loads(prediction_path(plan.out, model.label, frame).read_text())
                    for column in columns:
                        writer.write(connections[(model.label, column, 'detections')], stamp,
                                     messages.detections(outputs[column], stamp))
                    continue
                for column in columns:
                    mask = cv2.imread(str(mask_path(plan.out, model.label, column, frame)), cv2.IMREAD_UNCHANGED)
                    writer.write(connections[(model.label, column, 'mask')], stamp,
                                 messages.image(mask, 'mono8', stamp))
                    writer.write(connections[(model.label, column, 'color_mask')], stamp,
                                 messages.image(labels.train_ids_to_color(mask), 'rgb8', stamp))


class _MessageFactory:
    """Serialized CDR messages of the recorded topics, built with a rosbags typestore."""

    def __init__(self, typestore):
        self.typestore = typestore
        self.types = typestore.types

    def header(self, stamp: int):
        Header, Time = self.types['std_msgs/msg/Header'], self.types['builtin_interfaces/msg/Time']
        return Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id='camera')

    def image(self, pixels, encoding: str, stamp: int) -> bytes:
        channels = 1 if pixels.ndim == 2 else 3
        Image = self.types[IMAGE_TYPE]
        return self.typestore.serialize_cdr(
            Image(header=self.header(stamp), height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                  is_bigendian=0, step=pixels.shape[1] * channels, data=pixels.reshape(-1)), IMAGE_TYPE)

    def detections(self, boxes: List[dict], stamp: int) -> bytes:
        """Return a Detection2DArray of saved boxes (corners [x_min, y_min, x_max, y_max] in pixels)."""
        types = self.types
        header = self.header(stamp)
        origin = types['geometry_msgs/msg/Point'](x=0.0, y=0.0, z=0.0)
        no_rotation = types['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0)
        identity_pose = types['geometry_msgs/msg/PoseWithCovariance'](
            pose=types['geometry_msgs/msg/Pose'](position=origin, orientation=no_rotation),
            covariance=np.zeros(36, dtype=np.float64))
        detections = []
        for box in boxes:
            cx, cy, width, height = (float(v) for v in corners_to_center_size(box['box'])[0])
            center = types['vision_msgs/msg/Pose2D'](
                position=types['vision_msgs/msg/Point2D'](x=cx, y=cy), theta=0.0)
            label_and_score = types['vision_msgs/msg/ObjectHypothesis'](
                class_id=box['label'], score=float(box['score']))
            hypothesis = types['vision_msgs/msg/ObjectHypothesisWithPose'](
                hypothesis=label_and_score, pose=identity_pose)
            detections.append(types['vision_msgs/msg/Detection2D'](
                header=header, results=[hypothesis], id='',
                bbox=types['vision_msgs/msg/BoundingBox2D'](center=center, size_x=width, size_y=height)))
        return self.typestore.serialize_cdr(types[DETECTIONS_TYPE](header=header, detections=detections),
                                            DETECTIONS_TYPE)
