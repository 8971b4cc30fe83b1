"""The camera list of a frame node: names, topics and output prefixes.

`input.cameras` contains entries `name=topic` or just `topic`; a bare topic is named after
its namespace (`/front/image_raw` -> `front`). With one camera from `input.topic` the
name is empty and the outputs keep their plain names; with `input.cameras` every
camera's outputs go under `<name>/` (`front/segmentation/mask`).
"""

from __future__ import annotations

import re
from typing import List, Sequence, Tuple

from ttm_ros.core.errors import ConfigurationError

_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


def camera_name(topic: str) -> str:
    """Return a camera name derived from its topic: the last namespace component."""
    parts = [part for part in topic.strip('/').split('/') if part]
    while parts and parts[-1] in ('image_raw', 'image', 'image_rect', 'image_rect_color', 'compressed'):
        parts = parts[:-1]
    return parts[-1] if parts else ''


def parse_cameras(entries: Sequence[str], default_topic: str) -> List[Tuple[str, str]]:
    """Return [(name, topic)] from `input.cameras`, or [('', default_topic)] when empty.

    Raises ConfigurationError for an empty entry, a name that is not a valid ROS name
    token, or a name used twice.
    """
    if not entries:
        return [('', default_topic)]
    cameras = []
    for entry in entries:
        name, separator, topic = entry.partition('=')
        if not separator:
            name, topic = camera_name(entry), entry
        name, topic = name.strip(), topic.strip()
        if not topic or not _NAME.match(name):
            raise ConfigurationError(
                f'input.cameras entry {entry!r} is invalid; write name=topic with a name of '
                'letters, digits and underscores starting with a letter, e.g. front=/front/image_raw')
        cameras.append((name, topic))
    names = [name for name, _ in cameras]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigurationError(f'input.cameras names {duplicates} are used twice; give each '
                                 'camera its own name with name=topic')
    return cameras
