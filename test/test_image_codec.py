"""Tests of the image codec with byte-level hand-built payloads and real frames."""

import array

import cv2
import numpy as np
import pytest

from ttm_ros.core.errors import ConfigurationError, FrameError
from ttm_ros.core.image_codec import (SUPPORTED_ENCODINGS, RawImage, decode_compressed,
                                      decode_image, encode_compressed, encode_image)

PADDING_BYTE = 0xAB  # Non-zero, so padding that leaks into a decoded image shows up.

# BT.601 limited-range (Y, Cb, Cr) of pure red, green and blue.
YUV_OF = {(255, 0, 0): (81, 90, 240), (0, 255, 0): (145, 54, 34), (0, 0, 255): (41, 240, 110)}


def make_rgb(height=4, width=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def pack_rows(rows, step):
    """Return the bytes of (H, row_bytes) uint8 rows, each padded to `step` bytes."""
    rows = rows.reshape(rows.shape[0], -1)
    padded = np.full((rows.shape[0], step), PADDING_BYTE, dtype=np.uint8)
    padded[:, :rows.shape[1]] = rows
    return padded.tobytes()


def raw_image(rows, encoding, width, step=None, is_bigendian=False):
    rows = rows.reshape(rows.shape[0], -1)
    step = rows.shape[1] if step is None else step
    return RawImage(height=rows.shape[0], width=width, encoding=encoding, step=step,
                    is_bigendian=is_bigendian, data=array.array('B', pack_rows(rows, step)))


def grey_to_rgb(grey):
    return np.repeat(grey[:, :, None], 3, axis=2)


def build_packed(encoding, rgb):
    """Return the pixel rows of `rgb` in `encoding` and the RGB the decoder must return."""
    alpha = np.full(rgb.shape[:2] + (1,), 77, dtype=np.uint8)
    grey = rgb[:, :, 1]
    table = {
        'rgb8': (rgb, rgb),
        'bgr8': (rgb[:, :, ::-1], rgb),
        'rgba8': (np.concatenate([rgb, alpha], axis=2), rgb),
        'bgra8': (np.concatenate([rgb[:, :, ::-1], alpha], axis=2), rgb),
        'mono8': (grey, grey_to_rgb(grey)),
    }
    return table[encoding]


PACKED_ENCODINGS = ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8']


# ---------------------------------------------------------------------------
# Raw encodings
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('encoding', PACKED_ENCODINGS)
def test_packed_encoding_decodes(encoding):
    rgb = make_rgb()
    rows, expected = build_packed(encoding, rgb)
    decoded = decode_image(raw_image(rows, encoding, width=rgb.shape[1]))
    assert decoded.dtype == np.uint8
    assert decoded.shape == expected.shape
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize('encoding', PACKED_ENCODINGS)
def test_padded_rows_decode(encoding):
    rgb = make_rgb(height=5, width=7, seed=1)
    rows, expected = build_packed(encoding, rgb)
    row_bytes = rows.reshape(rows.shape[0], -1).shape[1]
    decoded = decode_image(raw_image(rows, encoding, width=7, step=row_bytes + 13))
    np.testing.assert_array_equal(decoded, expected)


def test_encoding_name_case_insensitive():
    rgb = make_rgb()
    decoded = decode_image(raw_image(rgb, 'RGB8', width=rgb.shape[1]))
    np.testing.assert_array_equal(decoded, rgb)


def test_rgb8_decode_is_zero_copy():
    rgb = make_rgb()
    raw = raw_image(rgb, 'rgb8', width=rgb.shape[1])
    decoded = decode_image(raw)
    assert np.shares_memory(decoded, np.frombuffer(raw.data, dtype=np.uint8))


def test_bytes_and_numpy_data_accepted():
    rgb = make_rgb()
    for data in (rgb.tobytes(), bytearray(rgb.tobytes()), memoryview(rgb.tobytes()),
                 rgb.reshape(-1)):
        raw = RawImage(4, 6, 'rgb8', 18, False, data)
        np.testing.assert_array_equal(decode_image(raw), rgb)


def test_data_beyond_step_times_height_ignored():
    rgb = make_rgb()
    raw = RawImage(4, 6, 'rgb8', 18, False, rgb.tobytes() + b'\x01\x02\x03')
    np.testing.assert_array_equal(decode_image(raw), rgb)


@pytest.mark.parametrize('is_bigendian', [False, True])
def test_mono16_keeps_high_byte(is_bigendian):
    values = np.array([[0x0000, 0x12FF, 0xAB01, 0xFFFF],
                       [0x8000, 0x7FFF, 0x0100, 0x00FF]], dtype=np.uint16)
    dtype = '>u2' if is_bigendian else '<u2'
    rows = np.frombuffer(values.astype(dtype).tobytes(), np.uint8).reshape(2, 8)
    raw = raw_image(rows, 'mono16', width=4, step=10, is_bigendian=is_bigendian)
    decoded = decode_image(raw)
    expected = grey_to_rgb((values >> 8).astype(np.uint8))
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize('encoding, order', [('rgb16', [0, 1, 2]), ('bgr16', [2, 1, 0]),
                                             ('rgba16', [0, 1, 2]), ('bgra16', [2, 1, 0])])
@pytest.mark.parametrize('is_bigendian', [False, True])
def test_colour16_keeps_high_byte_of_each_channel(encoding, order, is_bigendian):
    channels = 4 if encoding.endswith('a16') else 3
    values = np.random.default_rng(5).integers(0, 65536, (3, 5, channels), dtype=np.uint16)
    dtype = '>u2' if is_bigendian else '<u2'
    rows = np.frombuffer(values.astype(dtype).tobytes(), np.uint8).reshape(3, 5 * channels * 2)
    decoded = decode_image(raw_image(rows, encoding, width=5, step=5 * channels * 2 + 3,
                                     is_bigendian=is_bigendian))
    np.testing.assert_array_equal(decoded, (values[:, :, order] >> 8).astype(np.uint8))


def test_mono16_byte_order_matters():
    values = np.array([[0x12FF, 0xAB01]], dtype=np.uint16)
    rows = np.frombuffer(values.astype('<u2').tobytes(), np.uint8).reshape(1, 4)
    wrong = decode_image(raw_image(rows, 'mono16', width=2, is_bigendian=True))
    assert wrong[0, :, 0].tolist() == [0xFF, 0x01]


def build_yuv422(colours, order):
    """Return one row of 4:2:2 bytes; each colour in `colours` fills a pixel pair."""
    row = []
    for colour in colours:
        y, u, v = YUV_OF[colour]
        row += [y, u, y, v] if order == 'yuyv' else [u, y, v, y]
    return np.array([row, row], dtype=np.uint8)


@pytest.mark.parametrize('encoding, order', [('yuyv', 'yuyv'), ('yuv422_yuy2', 'yuyv'),
                                             ('uyvy', 'uyvy'), ('yuv422', 'uyvy')])
def test_yuv422_known_colours(encoding, order):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    rows = build_yuv422(colours, order)
    decoded = decode_image(raw_image(rows, encoding, width=6, step=12 + 4))
    expected = np.repeat(np.array(colours, dtype=np.int16), 2, axis=0)
    for row in decoded.astype(np.int16):
        assert np.abs(row - expected).max() <= 3


def test_yuv422_odd_width_rejected():
    rows = np.zeros((2, 6), dtype=np.uint8)
    with pytest.raises(FrameError, match='odd'):
        decode_image(raw_image(rows, 'yuyv', width=3))


def build_bayer(scene, pattern):
    """Sample an RGB scene through a colour filter array named like ROS ('rggb')."""
    channel = {'r': 0, 'g': 1, 'b': 2}
    mosaic = np.empty(scene.shape[:2], dtype=np.uint8)
    for index, colour in enumerate(pattern):
        dy, dx = divmod(index, 2)
        mosaic[dy::2, dx::2] = scene[dy::2, dx::2, channel[colour]]
    return mosaic


BAYER_PATTERNS = ['rggb', 'bggr', 'gbrg', 'grbg']


@pytest.mark.parametrize('pattern', BAYER_PATTERNS)
@pytest.mark.parametrize('colour', [(255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 120, 40)])
def test_bayer_uniform_scene(pattern, colour):
    scene = np.empty((8, 10, 3), dtype=np.uint8)
    scene[:] = colour
    raw = raw_image(build_bayer(scene, pattern), f'bayer_{pattern}8', width=10, step=16)
    decoded = decode_image(raw)
    interior = decoded[2:-2, 2:-2].reshape(-1, 3)
    assert (interior == colour).all(), f'{pattern}: got {np.unique(interior, axis=0)}'


@pytest.mark.parametrize('pattern', BAYER_PATTERNS)
def test_bayer_real_frame(shared_data, pattern):
    path = shared_data / 'cityscapes-mmseg-tiny' / 'frankfurt_000000_000294_leftImg8bit.png'
    scene = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    raw = raw_image(build_bayer(scene, pattern), f'bayer_{pattern}8', width=scene.shape[1])
    decoded = decode_image(raw)
    error = decoded[2:-2, 2:-2].astype(float) - scene[2:-2, 2:-2]
    psnr = 10 * np.log10(255.0 ** 2 / np.mean(error ** 2))
    assert psnr > 25.0


# ---------------------------------------------------------------------------
# Raw rejections
# ---------------------------------------------------------------------------

def test_empty_data_rejected():
    with pytest.raises(FrameError, match='empty data'):
        decode_image(RawImage(4, 6, 'rgb8', 18, False, b''))


def test_truncated_data_rejected():
    data = make_rgb().tobytes()[:-1]
    with pytest.raises(FrameError, match='truncated: 71 bytes.*72 bytes expected'):
        decode_image(RawImage(4, 6, 'rgb8', 18, False, data))


@pytest.mark.parametrize('height, width', [(0, 6), (4, 0), (0, 0)])
def test_zero_size_rejected(height, width):
    with pytest.raises(FrameError, match=f'{width}x{height} is empty'):
        decode_image(RawImage(height, width, 'rgb8', 18, False, bytes(72)))


@pytest.mark.parametrize('encoding, step', [('rgb8', 17), ('mono16', 11), ('yuyv', 10)])
def test_step_too_small_rejected(encoding, step):
    with pytest.raises(FrameError, match=f'step {step} is smaller'):
        decode_image(RawImage(4, 6, encoding, step, False, bytes(200)))


def test_non_buffer_data_rejected():
    with pytest.raises(FrameError, match='list is not a contiguous byte buffer'):
        decode_image(RawImage(1, 1, 'rgb8', 3, False, [1, 2, 3]))


@pytest.mark.parametrize('encoding', ['16UC1', '32FC1', '8UC1', '16SC1', '8UC3', '64FC1'])
def test_depth_encoding_rejected(encoding):
    with pytest.raises(FrameError, match='depth or matrix') as info:
        decode_image(RawImage(2, 2, encoding, 16, False, bytes(32)))
    assert repr(encoding) in str(info.value)


@pytest.mark.parametrize('encoding', ['nv12', 'bayer_rggb16', 'hsv', ''])
def test_unknown_encoding_rejected(encoding):
    with pytest.raises(FrameError, match='unsupported image encoding') as info:
        decode_image(RawImage(2, 2, encoding, 16, False, bytes(32)))
    message = str(info.value)
    assert repr(encoding) in message
    for supported in SUPPORTED_ENCODINGS:
        assert supported in message


# ---------------------------------------------------------------------------
# Raw encoding
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_encode_colour_round_trip(encoding):
    rgb = make_rgb(height=3, width=5)
    raw = encode_image(rgb, encoding)
    assert (raw.height, raw.width, raw.step) == (3, 5, 15)
    assert raw.encoding == encoding
    assert isinstance(raw.data, bytes)
    np.testing.assert_array_equal(decode_image(raw), rgb)


def test_encode_bgr8_swaps_channels():
    rgb = make_rgb(height=3, width=5)
    assert encode_image(rgb, 'bgr8').data == np.ascontiguousarray(rgb[:, :, ::-1]).tobytes()


@pytest.mark.parametrize('shape', [(3, 5), (3, 5, 1)])
def test_encode_mono8_round_trip(shape):
    mask = np.arange(15, dtype=np.uint8).reshape(shape)
    raw = encode_image(mask, 'mono8')
    assert (raw.height, raw.width, raw.step) == (3, 5, 5)
    assert raw.data == mask.tobytes()
    np.testing.assert_array_equal(decode_image(raw)[:, :, 0], mask.reshape(3, 5))


def test_encode_non_contiguous_input():
    rgb = make_rgb(height=4, width=8)[:, ::2]
    np.testing.assert_array_equal(decode_image(encode_image(rgb, 'rgb8')), rgb)


def test_encode_rejects_bad_input():
    with pytest.raises(FrameError, match='float32'):
        encode_image(np.zeros((2, 2, 3), np.float32), 'rgb8')
    with pytest.raises(FrameError, match=r'\(H, W, 3\)'):
        encode_image(np.zeros((2, 2), np.uint8), 'rgb8')
    with pytest.raises(FrameError, match='array to encode as mono8 must have shape'):
        encode_image(np.zeros((2, 2, 3), np.uint8), 'mono8')
    with pytest.raises(FrameError, match='empty'):
        encode_image(np.zeros((0, 2, 3), np.uint8), 'rgb8')
    with pytest.raises(ConfigurationError, match="'yuyv'"):
        encode_image(np.zeros((2, 2, 3), np.uint8), 'yuyv')


# ---------------------------------------------------------------------------
# Compressed images
# ---------------------------------------------------------------------------

def colour_blocks():
    """Return a 32x48 RGB image of three flat blocks: red, green, blue."""
    rgb = np.zeros((32, 48, 3), dtype=np.uint8)
    rgb[:, :16] = (255, 0, 0)
    rgb[:, 16:32] = (0, 255, 0)
    rgb[:, 32:] = (0, 0, 255)
    return rgb


def imencode(extension, array, *params):
    ok, encoded = cv2.imencode(extension, array, list(params))
    assert ok
    return encoded.tobytes()


def assert_blocks(decoded, tolerance):
    assert decoded.shape == (32, 48, 3)
    for column, colour in ((8, (255, 0, 0)), (24, (0, 255, 0)), (40, (0, 0, 255))):
        block = decoded[4:-4, column - 4:column + 4].reshape(-1, 3).astype(int)
        assert np.abs(block - colour).max() <= tolerance, f'block {colour}: {block[0]}'


@pytest.mark.parametrize('format', ['jpeg', 'jpg', 'JPEG', 'Jpeg', '', ' jpeg ',
                                    'rgb8; jpeg compressed bgr8', 'bgr8; jpeg compressed bgr8',
                                    'RGB8; JPEG COMPRESSED BGR8', 'bgra8; jpeg compressed bgr8'])
def test_jpeg_colour_formats(format):
    data = imencode('.jpg', cv2.cvtColor(colour_blocks(), cv2.COLOR_RGB2BGR),
                    cv2.IMWRITE_JPEG_QUALITY, 95)
    assert_blocks(decode_compressed(format, data), tolerance=12)


@pytest.mark.parametrize('format', ['png', 'PNG', '', 'rgb8; png compressed bgr8',
                                    'bgr8; png compressed bgr8'])
def test_png_colour_formats(format):
    rgb = make_rgb(height=9, width=11)
    data = imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(decode_compressed(format, data), rgb)


@pytest.mark.parametrize('format', ['rgb8; png compressed rgb8', 'bgr8; png compressed rgb8',
                                    'rgb8; png compressed ', 'rgba8; png compressed rgba8'])
def test_png_rgb_target_not_swapped(format):
    # As in compressed_image_transport's subscriber, a colour format without
    # 'compressed bgr' means the producer passed RGB order to the encoder.
    rgb = make_rgb(height=9, width=11)
    data = imencode('.png', rgb)
    np.testing.assert_array_equal(decode_compressed(format, data), rgb)


def test_png_rgba_drops_alpha():
    rgb = make_rgb(height=9, width=11)
    bgra = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
    bgra[:, :, 3] = 10
    np.testing.assert_array_equal(decode_compressed('png', imencode('.png', bgra)), rgb)


@pytest.mark.parametrize('format', ['mono8; jpeg compressed mono8', 'jpeg', ''])
def test_mono_jpeg_decodes_grey(format):
    grey = np.zeros((16, 32), dtype=np.uint8)
    grey[:, 16:] = 200
    decoded = decode_compressed(format, imencode('.jpg', grey, cv2.IMWRITE_JPEG_QUALITY, 95))
    assert decoded.shape == (16, 32, 3)
    assert np.abs(decoded.astype(int) - grey_to_rgb(grey)).max() <= 8
    assert (decoded[:, :, 0] == decoded[:, :, 2]).all()


@pytest.mark.parametrize('format', ['mono16; png compressed mono16', 'png'])
def test_png_16bit_keeps_high_byte(format):
    values = np.array([[0x0000, 0x12FF], [0xAB01, 0xFFFF]], dtype=np.uint16)
    decoded = decode_compressed(format, imencode('.png', values))
    np.testing.assert_array_equal(decoded, grey_to_rgb((values >> 8).astype(np.uint8)))


def test_compressed_accepts_array_data():
    data = imencode('.png', make_rgb())
    np.testing.assert_array_equal(decode_compressed('png', array.array('B', data)),
                                  decode_compressed('png', data))


@pytest.mark.parametrize('format', ['16UC1; png compressed', '16UC1; png compressed ',
                                    '32FC1; png compressed'])
def test_depth_png_rejected(format):
    data = imencode('.png', np.zeros((2, 2), np.uint16))
    with pytest.raises(FrameError, match='depth') as info:
        decode_compressed(format, data)
    assert format.split(';')[0] in str(info.value)


@pytest.mark.parametrize('format', ['compressedDepth', '16UC1; compressedDepth png',
                                    '32FC1; compressedDepth rvl', 'COMPRESSEDDEPTH'])
def test_compressed_depth_rejected(format):
    with pytest.raises(FrameError, match='compressedDepth') as info:
        decode_compressed(format, bytes(64))
    assert repr(format) in str(info.value)


def test_unknown_container_rejected():
    with pytest.raises(FrameError, match="unsupported compressed format 'tiff'"):
        decode_compressed('tiff', imencode('.png', make_rgb()))


def test_corrupt_jpeg_rejected():
    noise = np.random.default_rng(3).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    with pytest.raises(FrameError, match='corrupt'):
        decode_compressed('jpeg', b'\xff\xd8\xff\xe0' + noise + b'\xff\xd9')


def test_non_image_data_rejected():
    with pytest.raises(FrameError, match='is not jpeg: it starts with 47 49 46 38'):
        decode_compressed('jpeg', b'GIF89a' + bytes(100))


def test_truncated_jpeg_rejected():
    data = imencode('.jpg', cv2.cvtColor(colour_blocks(), cv2.COLOR_RGB2BGR))
    with pytest.raises(FrameError, match='JPEG .* truncated'):
        decode_compressed('jpeg', data[:len(data) // 2])


def test_jpeg_zero_padding_accepted():
    data = imencode('.jpg', cv2.cvtColor(colour_blocks(), cv2.COLOR_RGB2BGR),
                    cv2.IMWRITE_JPEG_QUALITY, 95)
    assert_blocks(decode_compressed('jpeg', data + bytes(100)), tolerance=12)


def test_truncated_png_rejected():
    data = imencode('.png', make_rgb(height=16, width=16))
    with pytest.raises(FrameError, match='PNG .* truncated'):
        decode_compressed('png', data[:-20])


def test_empty_compressed_rejected():
    with pytest.raises(FrameError, match='empty data'):
        decode_compressed('jpeg', b'')


# ---------------------------------------------------------------------------
# Compressed encoding
# ---------------------------------------------------------------------------

def test_encode_jpeg_round_trip():
    format_string, data = encode_compressed(colour_blocks(), 'jpeg', quality=95)
    assert format_string == 'rgb8; jpeg compressed bgr8'
    assert data[:3] == b'\xff\xd8\xff'
    assert_blocks(decode_compressed(format_string, data), tolerance=12)


def test_encode_png_round_trip():
    rgb = make_rgb(height=9, width=11)
    format_string, data = encode_compressed(rgb, 'png')
    assert format_string == 'rgb8; png compressed bgr8'
    np.testing.assert_array_equal(decode_compressed(format_string, data), rgb)


def test_encode_png_matches_opencv_bgr_file():
    # The file must contain true colours, so any image reader sees the RGB input.
    rgb = make_rgb(height=9, width=11)
    _, data = encode_compressed(rgb, 'png')
    read_back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(read_back, rgb[:, :, ::-1])


def test_encode_mono_png_round_trip():
    mask = np.arange(12, dtype=np.uint8).reshape(3, 4)
    format_string, data = encode_compressed(mask, 'png')
    assert format_string == 'mono8; png compressed mono8'
    np.testing.assert_array_equal(decode_compressed(format_string, data), grey_to_rgb(mask))


def test_jpeg_quality_changes_size():
    rgb = make_rgb(height=64, width=64)
    assert len(encode_compressed(rgb, 'jpeg', 20)[1]) < len(encode_compressed(rgb, 'jpeg', 95)[1])


def test_encode_compressed_rejects_settings():
    with pytest.raises(ConfigurationError, match="'webp'"):
        encode_compressed(make_rgb(), 'webp')
    with pytest.raises(ConfigurationError, match='quality 0'):
        encode_compressed(make_rgb(), 'jpeg', 0)
    with pytest.raises(ConfigurationError, match='quality 101'):
        encode_compressed(make_rgb(), 'jpeg', 101)
