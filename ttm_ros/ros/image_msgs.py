"""Conversion between sensor_msgs image messages and RGB arrays.

The pixel rules live in `ttm_ros.core.image_codec`; this module only copies message
fields. Output messages get `data` as array.array('B'), because assigning a numpy
array to a uint8[] field converts element by element (seconds for a 1080p frame) and
bytes are slow when ROS_PYTHON_CHECK_FIELDS=1 is set.
"""

from __future__ import annotations

import array
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ttm_ros.core.errors import FrameError
from ttm_ros.core.image_codec import (RawImage, decode_compressed, decode_image,
                                      encode_compressed, encode_image)


def image_from_msg(msg: Any) -> np.ndarray:
    """Decode an Image or CompressedImage message to an RGB uint8 array (H, W, 3).

    Any object with the fields of either message works, for example messages that
    rosbags deserialised. The result may share memory with `msg.data` (rgb8).
    """
    if hasattr(msg, 'format'):
        return decode_compressed(msg.format, msg.data)
    if hasattr(msg, 'encoding'):
        return decode_image(RawImage(height=msg.height, width=msg.width,
                                     encoding=msg.encoding, step=msg.step,
                                     is_bigendian=msg.is_bigendian, data=msg.data))
    raise FrameError(f'cannot decode a {type(msg).__name__} message; expected '
                     'sensor_msgs/Image or sensor_msgs/CompressedImage')


def copy_header(header: Header) -> Header:
    """Return a new Header with the same stamp and frame_id."""
    stamp = Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec)
    return Header(stamp=stamp, frame_id=header.frame_id)


def rgb_to_image_msg(rgb: np.ndarray, header: Header, encoding: str = 'rgb8') -> Image:
    """Build an Image from an RGB uint8 array (H, W, 3); `encoding` is rgb8 or bgr8."""
    return _raw_to_msg(encode_image(rgb, encoding), header)


def mono_to_image_msg(mask: np.ndarray, header: Header) -> Image:
    """Build a mono8 Image from a uint8 array (H, W), for example a class-id mask."""
    return _raw_to_msg(encode_image(mask, 'mono8'), header)


def to_compressed_msg(rgb: np.ndarray, header: Header, fmt: str = 'jpeg',
                      quality: int = 90) -> CompressedImage:
    """Build a CompressedImage (jpeg or png) from an RGB (H, W, 3) or mono (H, W) array."""
    format_string, payload = encode_compressed(rgb, fmt, quality)
    return CompressedImage(header=copy_header(header), format=format_string,
                           data=array.array('B', payload))


def _raw_to_msg(raw: RawImage, header: Header) -> Image:
    return Image(header=copy_header(header), height=raw.height, width=raw.width,
                 encoding=raw.encoding, is_bigendian=int(raw.is_bigendian), step=raw.step,
                 data=array.array('B', raw.data))
