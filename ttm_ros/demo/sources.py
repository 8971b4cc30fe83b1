"""Frame sources of the demo: a folder of images or a rosbag2 camera topic.

Each frame gets a name (for output files and label matching) and a header stamp:
- folder: name = the file's frame id (`labels.frame_id`); the camera process stamps
  each frame with the time it publishes it (`stamp_ns` is 0 here), frame_id `camera`;
- rosbag2 (mcap or sqlite3): the message keeps its own header; name = the zero-padded
  message index on the topic (`000042`). Labels for bag frames are named by that index
  or by the header stamp in nanoseconds.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Iterator, List, Optional

from ttm_ros.core import labels
from ttm_ros.core.errors import ConfigurationError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.tif', '.tiff', '.webp')
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


@dataclasses.dataclass
class FrameRef:
    """One frame to publish: its name, header stamp and where its pixels come from."""

    name: str
    stamp_ns: int  # header stamp of a bag message; 0 for folder frames
    path: Optional[pathlib.Path] = None  # image file (folder source)
    index: int = 0                        # message index on the topic (bag source)

    @property
    def stamp_key(self) -> str:
        """Return the stamp as the string used to match outputs to frames."""
        return str(self.stamp_ns)


def is_bag(path: pathlib.Path) -> bool:
    """Return True if `path` is a rosbag2 folder (metadata.yaml) or a single .mcap/.db3 file."""
    return (path.is_dir() and (path / 'metadata.yaml').is_file()) or \
        path.suffix in ('.mcap', '.db3')


def list_frames(source: pathlib.Path, topic: str = '', limit: int = 0) -> List[FrameRef]:
    """Return the frames of a folder or bag, in order; raise ConfigurationError if none."""
    if not source.exists():
        raise ConfigurationError(f'input {source} does not exist; give a folder of images or a rosbag2')
    frames = list_bag_frames(source, topic) if is_bag(source) else list_folder_frames(source)
    if limit > 0:
        frames = frames[:limit]
    if not frames:
        raise ConfigurationError(f'no frames found in {source}')
    return frames


def list_folder_frames(folder: pathlib.Path) -> List[FrameRef]:
    """Return the images of `folder`, sorted by name."""
    if not folder.is_dir():
        raise ConfigurationError(f'input {folder} is neither a folder nor a rosbag2 (.mcap, .db3)')
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    names = [labels.frame_id(p.name) for p in paths]
    if len(set(names)) != len(names):
        raise ConfigurationError(f'two images in {folder} share a frame id; rename them')
    return [FrameRef(name, 0, path=p) for name, p in zip(names, paths)]


def bag_image_topic(reader, topic: str) -> str:
    """Return `topic`, or the bag's only image topic when `topic` is empty."""
    image_topics = [c.topic for c in reader.connections if c.msgtype in IMAGE_TYPES]
    if topic:
        if topic not in image_topics:
            raise ConfigurationError(
                f'topic {topic!r} is not an image topic of the bag; image topics: '
                f'{", ".join(image_topics) or "(none)"}')
        return topic
    if len(set(image_topics)) != 1:
        raise ConfigurationError(
            f'the bag has image topics {", ".join(image_topics) or "(none)"}; choose one with --topic')
    return image_topics[0]


def list_bag_frames(bag: pathlib.Path, topic: str = '') -> List[FrameRef]:
    """Return the image messages of a rosbag2 topic as frames keyed by header stamp."""
    frames = []
    for index, _, msg in iterate_bag(bag, topic):
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        frames.append(FrameRef(f'{index:06d}', stamp, index=index))
    stamps = [f.stamp_ns for f in frames]
    if len(set(stamps)) != len(stamps):
        raise ConfigurationError(
            f'image messages in {bag} share header stamps; the demo matches outputs by stamp')
    return frames


def iterate_bag(bag: pathlib.Path, topic: str = '') -> Iterator[tuple]:
    """Yield (index, connection message type, rclpy message) for a bag's image topic."""
    from rclpy.serialization import deserialize_message
    from rosbags.rosbag2 import Reader
    from sensor_msgs.msg import CompressedImage, Image

    message_types = {'sensor_msgs/msg/Image': Image, 'sensor_msgs/msg/CompressedImage': CompressedImage}
    with Reader(bag) as reader:
        chosen = bag_image_topic(reader, topic)
        connections = [c for c in reader.connections if c.topic == chosen]
        for index, (connection, _, raw) in enumerate(reader.messages(connections=connections)):
            yield index, connection.msgtype, deserialize_message(raw, message_types[connection.msgtype])
