"""rosbag2 camera bags without ROS: read them as evaluation sets, write them from frames.

Reading and writing use the rosbags library (mcap and sqlite3 storage). Frames of a
bag are named by their zero-padded message index on the topic (`000042`), as in
`ttm-ros demo`; ground truth beside the bag is matched by that index or by the header
stamp in nanoseconds:
- a folder of label PNGs named `<index>` or `<stamp_ns>` plus optional dataset
  suffixes (`000042_gtFine_labelTrainIds.png`, `1700000000000000000.png`);
- a COCO or BDD100K JSON file whose image file names (without extension) are the
  index or the stamp; this gives boxes (detection) and, from BDD100K, the frames'
  attributes (timeofday, weather, scene). COCO image ids are not used, because they
  seldom count from 0 like the message index.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ttm_ros.core import labels
from ttm_ros.core.errors import ConfigurationError
from ttm_ros.core.image_codec import decode_compressed, decode_image, encode_compressed, RawImage
from ttm_ros.eval.datasets import (IMAGE_SUFFIXES, Box, Dataset, Sample, bdd100k_boxes, read_coco_boxes,
                                   read_rgb)

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


def is_bag(path: pathlib.Path) -> bool:
    """Return True for a rosbag2 folder (metadata.yaml) or a single .mcap/.db3 file."""
    path = pathlib.Path(path)
    return (path.is_dir() and (path / 'metadata.yaml').is_file()) or path.suffix in ('.mcap', '.db3')


def _typestore():
    from rosbags.typesys import Stores, get_typestore
    return get_typestore(Stores.ROS2_HUMBLE)


def _choose_topic(connections, topic: str, bag: pathlib.Path) -> str:
    image_topics = sorted({c.topic for c in connections if c.msgtype in IMAGE_TYPES})
    if topic:
        if topic not in image_topics:
            raise ConfigurationError(f'topic {topic!r} is not an image topic of {bag}; image topics: '
                                     f'{", ".join(image_topics) or "(none)"}')
        return topic
    if len(image_topics) != 1:
        raise ConfigurationError(f'{bag} has image topics {", ".join(image_topics) or "(none)"}; '
                                 'choose one with --topic')
    return image_topics[0]


def decode_message(msg) -> np.ndarray:
    """Return the RGB uint8 frame of a deserialised Image or CompressedImage message."""
    if hasattr(msg, 'format'):
        return decode_compressed(msg.format, msg.data)
    return np.array(decode_image(RawImage(msg.height, msg.width, msg.encoding, msg.step,
                                          bool(msg.is_bigendian), msg.data)))


@dataclasses.dataclass
class BagFrame:
    """One image message of a bag: index on the topic, header stamp, bag time, frame_id."""

    index: int
    stamp_ns: int
    bag_time_ns: int
    frame_id: str

    @property
    def name(self) -> str:
        return f'{self.index:06d}'


def iterate_frames(bag: pathlib.Path, topic: str = '') -> Iterator[Tuple[BagFrame, np.ndarray]]:
    """Yield (frame, RGB image) for every message of the bag's image topic, in bag order."""
    from rosbags.rosbag2 import Reader
    typestore = _typestore()
    with Reader(bag) as reader:
        chosen = _choose_topic(reader.connections, topic, bag)
        connections = [c for c in reader.connections if c.topic == chosen]
        for index, (connection, bag_time, raw) in enumerate(reader.messages(connections=connections)):
            msg = typestore.deserialize_cdr(raw, connection.msgtype)
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            yield BagFrame(index, stamp, bag_time, msg.header.frame_id), decode_message(msg)


def list_frames(bag: pathlib.Path, topic: str = '') -> List[BagFrame]:
    """Return the frames of a bag's image topic without keeping their pixels."""
    return [frame for frame, _ in iterate_frames(bag, topic)]


def read_bag(bag: pathlib.Path, topic: str = '', ground_truth: Optional[pathlib.Path] = None) -> Dataset:
    """Return the frames of a bag topic with the ground truth beside it (see the module docstring).

    Frames are decoded once and kept in memory as loaders of the decoded array.
    NOTE: a long drive needs memory for every decoded frame; read it in parts with
    `--limit` or convert it to a folder with the recording helper's inverse.
    """
    bag = pathlib.Path(bag)
    if not is_bag(bag):
        raise ConfigurationError(f'{bag} is not a rosbag2 (a folder with metadata.yaml, .mcap or .db3)')
    frames = list(iterate_frames(bag, topic))
    if ground_truth is None:
        raise ConfigurationError(f'no ground truth for {bag}; pass --labels DIR (label PNGs named by '
                                 'message index or stamp) or --annotations FILE (COCO or BDD100K JSON)')
    if ground_truth.is_dir():
        return _bag_segmentation(bag, frames, ground_truth)
    return _bag_detection(bag, frames, ground_truth)


def _bag_segmentation(bag, frames, label_dir: pathlib.Path) -> Dataset:
    available = labels.find_labels(label_dir)
    samples = []
    for frame, rgb in frames:
        path = available.get(frame.name) or available.get(str(frame.stamp_ns))
        if path is None:
            continue
        samples.append(Sample(frame.name, (lambda image=rgb: image), (lambda p=path: labels.load_label(p)),
                              stamp_ns=frame.stamp_ns, source=f'{bag}#{frame.index}'))
    if not samples:
        raise ConfigurationError(f'no label in {label_dir} matches a frame of {bag}; name labels by message '
                                 f'index ({frames[0][0].name if frames else "000000"}) or header stamp in ns')
    return Dataset('rosbag2', 'segmentation', bag, samples, labels.CITYSCAPES_CLASSES)


def _bag_detection(bag, frames, annotation_file: pathlib.Path) -> Dataset:
    boxes, attributes = _boxes_by_key(annotation_file)
    samples = []
    for frame, rgb in frames:
        key = frame.name if frame.name in boxes else str(frame.stamp_ns)
        if key in boxes:
            samples.append(Sample(frame.name, (lambda image=rgb: image), boxes=boxes[key], stamp_ns=frame.stamp_ns,
                                  source=f'{bag}#{frame.index}', attributes=attributes.get(key, {})))
    if not samples:
        examples = ', '.join(sorted(boxes)[:3]) or 'none'
        raise ConfigurationError(
            f'no image of {annotation_file} matches a frame of {bag} (its image names start {examples}); '
            f'name each image by message index ({frames[0][0].name if frames else "000000"}.jpg) or '
            'header stamp in ns')
    names = sorted({box.label for sample in samples for box in sample.boxes})
    return Dataset('rosbag2', 'detection', bag, samples, names)


def _boxes_by_key(path: pathlib.Path) -> Tuple[Dict[str, List[Box]], Dict[str, Dict[str, str]]]:
    """Return the boxes and attributes of a COCO or BDD100K file, keyed by image file stem."""
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise ConfigurationError(f'cannot read the annotations {path}: {error}; give a COCO or BDD100K '
                                 'JSON file') from error
    except ValueError as error:
        raise ConfigurationError(f'annotations {path} are not valid JSON: {error}') from error
    if isinstance(document, list):  # BDD100K: [{name, attributes, labels: [{category, box2d}]}]
        return ({pathlib.Path(frame['name']).stem: bdd100k_boxes(frame) for frame in document},
                {pathlib.Path(frame['name']).stem: {k: str(v) for k, v in (frame.get('attributes') or {}).items()}
                 for frame in document})
    return {pathlib.Path(file_name).stem: entry['boxes'] for file_name, entry in read_coco_boxes(path).items()}, {}


# ---------------------------------------------------------------------------------
# Recording helper


def check_new_bag(bag: pathlib.Path) -> None:
    """Raise ConfigurationError when `bag` (the rosbag2 folder to create) exists already."""
    if pathlib.Path(bag).exists():
        raise ConfigurationError(f'{bag} exists already; a rosbag2 is written into a new folder, so give a '
                                 'path that does not exist or delete it first')


def write_camera_bag(frames: Sequence[pathlib.Path], bag: pathlib.Path, topic: str = '/camera/image_raw',
                     compressed: bool = False, rate_hz: float = 10.0, start_ns: int = 1_700_000_000 * 10**9,
                     frame_id: str = 'camera', storage: str = 'mcap') -> List[int]:
    """Write image files as a rosbag2 camera topic; return the header stamps (ns).

    Frame i gets the header stamp and bag time `start_ns + i / rate_hz` seconds.
    `compressed` writes sensor_msgs/CompressedImage (JPEG for .jpg inputs, PNG
    otherwise, so PNG frames stay lossless); otherwise sensor_msgs/Image rgb8.
    `storage` is mcap or sqlite3. The topic gets `/compressed` appended when
    compressed, as image_transport names it.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    check_new_bag(bag)
    if rate_hz <= 0:
        raise ConfigurationError(f'rate={rate_hz} Hz is invalid; use a positive frame rate')
    plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
    if storage not in plugins:
        raise ConfigurationError(f'storage {storage!r} is invalid; use mcap or sqlite3')
    if not frames:
        raise ConfigurationError('no image files to record')
    typestore = _typestore()
    types = {name: typestore.types[name] for name in (
        'sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage', 'std_msgs/msg/Header',
        'builtin_interfaces/msg/Time')}
    message_type = 'sensor_msgs/msg/CompressedImage' if compressed else 'sensor_msgs/msg/Image'
    stamps = []
    with Writer(bag, version=9, storage_plugin=plugins[storage]) as writer:
        connection = writer.add_connection(topic + ('/compressed' if compressed else ''), message_type,
                                           typestore=typestore)
        for index, path in enumerate(frames):
            stamp = start_ns + int(round(index * 1e9 / rate_hz))
            header = types['std_msgs/msg/Header'](
                stamp=types['builtin_interfaces/msg/Time'](sec=stamp // 10**9, nanosec=stamp % 10**9),
                frame_id=frame_id)
            message = _frame_message(types, header, path, compressed)
            writer.write(connection, stamp, typestore.serialize_cdr(message, message_type))
            stamps.append(stamp)
    return stamps


def _frame_message(types, header, path: pathlib.Path, compressed: bool):
    if compressed:
        if path.suffix.lower() in ('.jpg', '.jpeg'):
            fmt, data = 'jpeg', path.read_bytes()
        else:
            fmt, data = encode_compressed(read_rgb(path), 'png')
        return types['sensor_msgs/msg/CompressedImage'](header=header, format=fmt,
                                                         data=np.frombuffer(data, np.uint8))
    rgb = read_rgb(path)
    return types['sensor_msgs/msg/Image'](header=header, height=rgb.shape[0], width=rgb.shape[1],
                                          encoding='rgb8', is_bigendian=0, step=rgb.shape[1] * 3,
                                          data=rgb.reshape(-1))


def image_files(folder: pathlib.Path) -> List[pathlib.Path]:
    """Return the image files of a folder (not recursive), sorted by name."""
    if not folder.is_dir():
        raise ConfigurationError(f'frame folder {folder} not found')
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
