"""Tests of the rclpy image message adapter with real sensor_msgs classes."""

import array

import numpy as np
import pytest

from ttm_ros.core.errors import FrameError

sensor_msgs = pytest.importorskip('sensor_msgs.msg')
serialization = pytest.importorskip('rclpy.serialization')
std_msgs = pytest.importorskip('std_msgs.msg')

from ttm_ros.ros.image_msgs import (image_from_msg, mono_to_image_msg,  # noqa: E402
                                    rgb_to_image_msg, to_compressed_msg)

SEC, NANOSEC, FRAME_ID = 1717171717, 123456789, 'front_camera_optical'


def make_header():
    header = std_msgs.Header(frame_id=FRAME_ID)
    header.stamp.sec = SEC
    header.stamp.nanosec = NANOSEC
    return header


def make_rgb(height=6, width=10):
    return np.random.default_rng(5).integers(0, 256, (height, width, 3), dtype=np.uint8)


def assert_header_preserved(header):
    assert header.stamp.sec == SEC
    assert header.stamp.nanosec == NANOSEC
    assert header.frame_id == FRAME_ID


def round_trip_serialized(msg):
    return serialization.deserialize_message(serialization.serialize_message(msg), type(msg))


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_image_round_trip(encoding):
    rgb = make_rgb()
    msg = rgb_to_image_msg(rgb, make_header(), encoding)
    assert isinstance(msg, sensor_msgs.Image)
    assert (msg.height, msg.width, msg.step) == (6, 10, 30)
    assert msg.encoding == encoding
    assert msg.is_bigendian == 0
    np.testing.assert_array_equal(image_from_msg(msg), rgb)


def test_image_data_is_byte_array():
    msg = rgb_to_image_msg(make_rgb(), make_header())
    assert isinstance(msg.data, array.array)
    assert msg.data.typecode == 'B'


def test_image_header_preserved():
    msg = rgb_to_image_msg(make_rgb(), make_header())
    assert_header_preserved(msg.header)


def test_header_copied_not_shared():
    header = make_header()
    msg = rgb_to_image_msg(make_rgb(), header)
    header.frame_id = 'changed'
    header.stamp.sec = 1
    assert_header_preserved(msg.header)


def test_mono_mask_message():
    mask = np.array([[0, 1, 18], [255, 7, 0]], dtype=np.uint8)
    msg = mono_to_image_msg(mask, make_header())
    assert msg.encoding == 'mono8'
    assert (msg.height, msg.width, msg.step) == (2, 3, 3)
    assert bytes(msg.data) == mask.tobytes()
    assert_header_preserved(msg.header)


def test_compressed_round_trip_png():
    rgb = make_rgb()
    msg = to_compressed_msg(rgb, make_header(), 'png')
    assert isinstance(msg, sensor_msgs.CompressedImage)
    assert msg.format == 'rgb8; png compressed bgr8'
    assert_header_preserved(msg.header)
    np.testing.assert_array_equal(image_from_msg(msg), rgb)


def test_compressed_round_trip_jpeg():
    rgb = np.zeros((16, 32, 3), dtype=np.uint8)
    rgb[:, :16] = (250, 20, 10)
    rgb[:, 16:] = (10, 30, 240)
    msg = to_compressed_msg(rgb, make_header(), 'jpeg', quality=95)
    assert msg.format == 'rgb8; jpeg compressed bgr8'
    assert isinstance(msg.data, array.array)
    error = np.abs(image_from_msg(msg).astype(int) - rgb)
    # Chroma subsampling blurs the colour edge at column 16, so compare block interiors.
    assert error[:, 4:12].max() <= 12
    assert error[:, 20:28].max() <= 12


def test_serialized_image_decodes():
    rgb = make_rgb()
    received = round_trip_serialized(rgb_to_image_msg(rgb, make_header(), 'bgr8'))
    assert_header_preserved(received.header)
    np.testing.assert_array_equal(image_from_msg(received), rgb)


def test_serialized_compressed_decodes():
    rgb = make_rgb()
    received = round_trip_serialized(to_compressed_msg(rgb, make_header(), 'png'))
    assert_header_preserved(received.header)
    np.testing.assert_array_equal(image_from_msg(received), rgb)


def test_hand_built_padded_image_msg():
    # A camera driver's message: yuyv with 8 bytes of padding per row.
    msg = sensor_msgs.Image(height=2, width=2, encoding='yuyv', step=12, is_bigendian=0)
    row = [81, 90, 81, 240] + [0] * 8  # One red pixel pair (BT.601 limited range).
    msg.data = array.array('B', row * 2)
    decoded = image_from_msg(round_trip_serialized(msg))
    assert decoded.shape == (2, 2, 3)
    assert np.abs(decoded.astype(int) - (255, 0, 0)).max() <= 3


def test_depth_image_msg_rejected():
    msg = sensor_msgs.Image(height=2, width=2, encoding='16UC1', step=4)
    msg.data = array.array('B', bytes(8))
    with pytest.raises(FrameError, match="'16UC1'"):
        image_from_msg(msg)


def test_other_message_type_rejected():
    with pytest.raises(FrameError, match='cannot decode a Header message'):
        image_from_msg(make_header())
