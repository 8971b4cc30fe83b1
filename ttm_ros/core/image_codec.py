"""Image codec: sensor_msgs/Image and CompressedImage payloads to and from RGB arrays.

Every decoder returns a numpy uint8 array (H, W, 3) in RGB order. The functions take
plain fields (`RawImage`, or a `format` string and bytes), so this module is used
without rclpy. The rclpy shell in `ttm_ros.ros.image_msgs` copies message fields in
and out.

Raw encodings (sensor_msgs/image_encodings names):
- rgb8, bgr8, rgba8, bgra8 (alpha dropped), mono8;
- mono16, rgb16, bgr16, rgba16 and bgra16 in either byte order (`is_bigendian`),
  mapped to 8 bit by keeping the high byte of each sample (value >> 8, no rescaling),
  so a 12-bit sensor stored in 16 bit looks dark;
- yuyv and uyvy (4:2:2, BT.601 limited range as OpenCV converts it), with the
  deprecated aliases yuv422_yuy2 (= yuyv) and yuv422 (= uyvy);
- bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8, named by the 2x2 colour
  pattern that starts at the top-left pixel, demosaiced by OpenCV.
Depth and generic matrix encodings (16UC1, 32FC1, 8UC1, ...) are rejected: they are
not camera images.

Rows are read with the message's `step` (bytes per row, padding allowed). Data
beyond `step * height` is ignored, as sensor_msgs defines the image as the first
`step * height` bytes.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Dict, Optional, Tuple

import cv2
import numpy as np

from ttm_ros.core.errors import ConfigurationError, FrameError


@dataclasses.dataclass
class RawImage:
    """The fields of a sensor_msgs/Image that describe its pixels.

    `data` is any object with the buffer protocol: array.array('B') from rclpy,
    bytes, bytearray, memoryview or a uint8 numpy array (rosbags).
    """

    height: int
    width: int
    encoding: str
    step: int
    is_bigendian: bool
    data: Any


# ---------------------------------------------------------------------------
# Raw images
# ---------------------------------------------------------------------------

def _rows_as_pixels(rows: np.ndarray, channels: int) -> np.ndarray:
    """View (H, W * channels) bytes as (H, W, channels) without copying."""
    return rows.reshape(rows.shape[0], -1, channels)


def _convert(code: int, channels: int) -> Callable[[np.ndarray, bool], np.ndarray]:
    def convert(rows: np.ndarray, is_bigendian: bool) -> np.ndarray:
        pixels = rows if channels == 1 else _rows_as_pixels(rows, channels)
        return cv2.cvtColor(pixels, code)
    return convert


def _decode_rgb8(rows: np.ndarray, is_bigendian: bool) -> np.ndarray:
    return _rows_as_pixels(rows, 3)


def _decode_16bit(channels: int, code: Optional[int]) -> Callable[[np.ndarray, bool], np.ndarray]:
    """Return a decoder of 16-bit samples that keeps each sample's high byte, then applies `code`."""
    def decode(rows: np.ndarray, is_bigendian: bool) -> np.ndarray:
        # Each sample is two bytes, and the high byte comes first in big-endian data.
        # NOTE: no rescaling, so data from a 10- or 12-bit sensor decodes dark.
        samples = rows.reshape(rows.shape[0], -1, channels, 2)[..., 0 if is_bigendian else 1]
        high_bytes = np.ascontiguousarray(samples[:, :, 0] if channels == 1 else samples)
        return high_bytes if code is None else cv2.cvtColor(high_bytes, code)
    return decode


# OpenCV's legacy Bayer names (BayerBG, ...) name the pattern one pixel down and
# right of the top-left pixel, so ROS rggb is OpenCV BayerBG. The legacy codes are used
# because older OpenCV 4 releases lack the BayerRGGB2RGB aliases.
_DECODERS: Dict[str, Tuple[int, Callable[[np.ndarray, bool], np.ndarray]]] = {
    'rgb8': (3, _decode_rgb8),
    'bgr8': (3, _convert(cv2.COLOR_BGR2RGB, 3)),
    'rgba8': (4, _convert(cv2.COLOR_RGBA2RGB, 4)),
    'bgra8': (4, _convert(cv2.COLOR_BGRA2RGB, 4)),
    'mono8': (1, _convert(cv2.COLOR_GRAY2RGB, 1)),
    'mono16': (2, _decode_16bit(1, cv2.COLOR_GRAY2RGB)),
    'rgb16': (6, _decode_16bit(3, None)),
    'bgr16': (6, _decode_16bit(3, cv2.COLOR_BGR2RGB)),
    'rgba16': (8, _decode_16bit(4, cv2.COLOR_RGBA2RGB)),
    'bgra16': (8, _decode_16bit(4, cv2.COLOR_BGRA2RGB)),
    'yuyv': (2, _convert(cv2.COLOR_YUV2RGB_YUYV, 2)),
    'uyvy': (2, _convert(cv2.COLOR_YUV2RGB_UYVY, 2)),
    'bayer_rggb8': (1, _convert(cv2.COLOR_BayerBG2RGB, 1)),
    'bayer_bggr8': (1, _convert(cv2.COLOR_BayerRG2RGB, 1)),
    'bayer_gbrg8': (1, _convert(cv2.COLOR_BayerGR2RGB, 1)),
    'bayer_grbg8': (1, _convert(cv2.COLOR_BayerGB2RGB, 1)),
}

_ALIASES = {'yuv422': 'uyvy', 'yuv422_yuy2': 'yuyv'}

_CHROMA_SUBSAMPLED = ('yuyv', 'uyvy')

SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(sorted([*_DECODERS, *_ALIASES]))

# Depth images and generic OpenCV matrix types, for example 16UC1, 32FC1, 8SC3.
_MATRIX_ENCODING = re.compile(r'^(8|16|32|64)[usf]c\d+$', re.IGNORECASE)


def _lookup_decoder(encoding: str) -> Tuple[str, int, Callable[[np.ndarray, bool], np.ndarray]]:
    """Return the canonical name, bytes per pixel and decoder of `encoding`."""
    key = encoding.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _DECODERS:
        bytes_per_pixel, decoder = _DECODERS[key]
        return key, bytes_per_pixel, decoder

    supported = ', '.join(SUPPORTED_ENCODINGS)
    if _MATRIX_ENCODING.match(key):
        raise FrameError(
            f'image encoding {encoding!r} is a depth or matrix encoding, not a camera '
            f'image; subscribe to a colour or mono camera topic ({supported})')
    raise FrameError(f'unsupported image encoding {encoding!r}; supported encodings: {supported}')


def _as_byte_array(data: Any, context: str) -> np.ndarray:
    """Return a flat uint8 view of a contiguous buffer-protocol object without copying."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        raise FrameError(
            f'{context} data of type {type(data).__name__} is not a contiguous byte buffer; '
            'pass bytes, array.array or a contiguous uint8 numpy array') from None


def _check_geometry(raw: RawImage, name: str, bytes_per_pixel: int, size: int) -> None:
    """Raise FrameError when the header fields and the data length disagree."""
    row_bytes = raw.width * bytes_per_pixel
    if raw.height <= 0 or raw.width <= 0:
        raise FrameError(f'image size {raw.width}x{raw.height} is empty; width and height '
                         'must be positive')
    if size == 0:
        raise FrameError(f'{raw.width}x{raw.height} {raw.encoding} image has empty data')
    if raw.step < row_bytes:
        raise FrameError(
            f'step {raw.step} is smaller than width {raw.width} x {bytes_per_pixel} bytes '
            f'per pixel = {row_bytes} for encoding {raw.encoding!r}; the encoding or the '
            'width is wrong')
    if size < raw.step * raw.height:
        raise FrameError(
            f'image data is truncated: {size} bytes, but step {raw.step} x height '
            f'{raw.height} = {raw.step * raw.height} bytes expected')
    if name in _CHROMA_SUBSAMPLED and raw.width % 2:
        raise FrameError(f'{raw.encoding} image width {raw.width} is odd; 4:2:2 '
                         'encodings store pixels in pairs, so width must be even')


def decode_image(raw: RawImage) -> np.ndarray:
    """Decode a raw image to an RGB uint8 array of shape (height, width, 3).

    For rgb8 the result is a view of `raw.data` (no copy, row stride `step`, read-only
    when the data is immutable); copy it before writing. Every other encoding returns
    a new array. Raises FrameError for an unsupported encoding, empty or truncated
    data, a zero size or a `step` smaller than one row of pixels.
    """
    name, bytes_per_pixel, decoder = _lookup_decoder(raw.encoding)
    flat = _as_byte_array(raw.data, f'{raw.encoding} image')
    _check_geometry(raw, name, bytes_per_pixel, flat.size)

    rows = flat[:raw.step * raw.height].reshape(raw.height, raw.step)
    rows = rows[:, :raw.width * bytes_per_pixel]
    try:
        return decoder(rows, bool(raw.is_bigendian))
    except cv2.error as error:
        raise FrameError(f'OpenCV failed to convert the {raw.width}x{raw.height} '
                         f'{raw.encoding} image: {error}') from error


def encode_image(array: np.ndarray, encoding: str) -> RawImage:
    """Encode an array as a dense raw image (step = width x bytes per pixel).

    `encoding` 'rgb8' and 'bgr8' take an RGB uint8 array (H, W, 3); bgr8 swaps the
    channels on the way out. 'mono8' takes a uint8 array (H, W) or (H, W, 1), for
    example a class-id mask. `data` of the result is bytes.
    """
    if encoding not in ('rgb8', 'bgr8', 'mono8'):
        raise ConfigurationError(
            f'cannot encode images as {encoding!r}; use rgb8, bgr8 or mono8')
    _check_uint8(array, encoding)
    if encoding == 'mono8':
        pixels = _as_mono(array)
    else:
        pixels = _as_rgb(array, encoding)
        if encoding == 'bgr8':
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)

    height, width = pixels.shape[:2]
    step = pixels.size // height
    return RawImage(height=height, width=width, encoding=encoding, step=step,
                    is_bigendian=False, data=pixels.tobytes())


def _check_uint8(array: np.ndarray, encoding: str) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        kind = getattr(array, 'dtype', type(array).__name__)
        raise FrameError(f'array to encode as {encoding} must be a uint8 numpy array, got '
                         f'{kind}; '
                         'convert with np.clip(x, 0, 255).astype(np.uint8)')
    if array.size == 0:
        raise FrameError(f'array to encode as {encoding} has the empty shape {array.shape}')


def _as_mono(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        return array[:, :, 0]
    if array.ndim != 2:
        raise FrameError(f'array to encode as mono8 must have shape (H, W) or (H, W, 1), got '
                         f'{array.shape}; convert colour images to grey first')
    return array


def _as_rgb(array: np.ndarray, encoding: str) -> np.ndarray:
    if array.ndim != 3 or array.shape[2] != 3:
        raise FrameError(f'array to encode as {encoding} must have shape (H, W, 3) in RGB order, '
                         f'got {array.shape}')
    return array


# ---------------------------------------------------------------------------
# Compressed images
# ---------------------------------------------------------------------------

_JPEG_MAGIC = b'\xff\xd8\xff'
_JPEG_EOI = b'\xff\xd9'
_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
_PNG_IEND = b'IEND\xaeB`\x82'

# Bytes at the end of a JPEG searched for the end-of-image marker. Some cameras pad
# the stream with zero bytes after the marker.
_JPEG_TAIL_BYTES = 1024

_CONTAINER_NAMES = {'jpeg': 'jpeg', 'jpg': 'jpeg', 'png': 'png'}

# sensor_msgs::image_encodings::isColor: the encodings for which compressed_image_transport
# records the channel order of the compressed pixels.
_COLOUR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'rgb16', 'bgr16', 'rgba16', 'bgra16')


@dataclasses.dataclass(frozen=True)
class _CompressedFormat:
    """A parsed CompressedImage `format` string."""

    container: str  # 'jpeg', 'png', or '' when the format string names none.
    pixels_are_rgb: bool  # True when the producer passed RGB order to the encoder.


def _parse_format(format: str) -> _CompressedFormat:
    """Parse `format` strings such as 'jpeg' or 'rgb8; jpeg compressed bgr8'.

    compressed_image_transport's publisher writes '<encoding>; <jpeg|png> compressed
    <target>', where <target> is bgr8 for colour encodings (the channel order passed to
    cv::imencode) and mono8 or empty otherwise. Its subscriber takes the decoded pixels
    as BGR when the text after ';' contains 'compressed bgr' or when there is no ';',
    and as RGB for any other colour format string. This parser applies the same rule.
    """
    text = format.strip()
    source, _, rest = text.partition(';') if ';' in text else ('', '', text)
    source = source.strip()
    words = rest.lower().split()

    if 'compresseddepth' in text.lower().replace(' ', ''):
        raise FrameError(f'compressed format {format!r} is a compressedDepth image; depth '
                         'images are not supported, subscribe to a colour or mono topic')
    if source and _MATRIX_ENCODING.match(source):
        raise FrameError(f'compressed format {format!r} contains a {source} depth or matrix '
                         'image; subscribe to a colour or mono camera topic')

    container = _CONTAINER_NAMES.get(words[0], None) if words else ''
    if container is None:
        raise FrameError(f'unsupported compressed format {format!r}; supported: jpeg, '
                         "png, '<encoding>; jpeg compressed <target>' or an empty format")
    pixels_are_rgb = (source.lower() in _COLOUR_ENCODINGS
                      and 'compressed bgr' not in ' '.join(words))
    return _CompressedFormat(container, pixels_are_rgb)


def _sniff_container(head: bytes) -> str:
    if head.startswith(_JPEG_MAGIC):
        return 'jpeg'
    if head.startswith(_PNG_MAGIC):
        return 'png'
    return ''


def _check_complete(container: str, buffer: np.ndarray) -> None:
    """Raise FrameError when a JPEG or PNG stream lacks its end marker."""
    if container == 'jpeg':
        tail = buffer[-_JPEG_TAIL_BYTES:].tobytes()
        end = tail.rfind(_JPEG_EOI)
        if end < 0 or tail[end + len(_JPEG_EOI):].strip(b'\x00'):
            raise FrameError(f'JPEG data of {buffer.size} bytes is truncated: no '
                             'end-of-image marker (FF D9) at the end')
    elif buffer[-len(_PNG_IEND):].tobytes() != _PNG_IEND:
        raise FrameError(f'PNG data of {buffer.size} bytes is truncated: no IEND chunk '
                         'at the end')


def _decoded_to_rgb(decoded: np.ndarray, pixels_are_rgb: bool) -> np.ndarray:
    """Convert cv2.imdecode output (grey, BGR or BGRA, 8 or 16 bit) to RGB uint8."""
    if decoded.dtype == np.uint16:
        decoded = (decoded >> 8).astype(np.uint8)  # Same high-byte rule as mono16.
    if decoded.ndim == 3 and decoded.shape[2] == 1:
        decoded = decoded[:, :, 0]
    if decoded.ndim == 2:
        return cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB)
    if decoded.shape[2] == 4:
        return cv2.cvtColor(decoded, cv2.COLOR_RGBA2RGB if pixels_are_rgb else cv2.COLOR_BGRA2RGB)
    return decoded if pixels_are_rgb else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def decode_compressed(format: str, data: Any) -> np.ndarray:
    """Decode CompressedImage `format` and `data` to an RGB uint8 array (H, W, 3).

    `format` is any spelling in use: 'jpeg', 'jpg', 'png' (any case), the
    image_transport form 'rgb8; jpeg compressed bgr8', or '' (the container is then
    found from the magic bytes). JPEG and PNG files store colours in their usual order,
    so files from image_transport and from cv2.imencode of a BGR array decode to true
    RGB. A 16-bit PNG keeps the high byte of each value. Depth formats (compressedDepth,
    '16UC1; png compressed') are rejected. Corrupt data and JPEG or PNG streams without
    their end marker raise FrameError.
    """
    parsed = _parse_format(format)
    buffer = _as_byte_array(data, 'compressed image')
    if buffer.size == 0:
        raise FrameError(f'compressed image ({format!r}) has empty data')

    container = _sniff_container(buffer[:len(_PNG_MAGIC)].tobytes())
    if not container:
        expected = parsed.container or 'jpeg or png'
        raise FrameError(f'compressed image data ({format!r}, {buffer.size} bytes) is not '
                         f'{expected}: it starts with {buffer[:8].tobytes().hex(" ")}')
    _check_complete(container, buffer)

    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise FrameError(f'OpenCV could not decode the {container} data ({format!r}, '
                         f'{buffer.size} bytes); the data is corrupt')
    return _decoded_to_rgb(decoded, parsed.pixels_are_rgb)


def encode_compressed(rgb: np.ndarray, fmt: str = 'jpeg', quality: int = 90) -> Tuple[str, bytes]:
    """Compress an RGB (H, W, 3) or mono (H, W) uint8 array as JPEG or PNG.

    Returns the CompressedImage `format` string in image_transport's form
    ('rgb8; jpeg compressed bgr8' or 'mono8; png compressed mono8') and the file
    bytes. `quality` (1..100) applies to JPEG only.
    """
    container = _CONTAINER_NAMES.get(fmt.strip().lower())
    if container is None:
        raise ConfigurationError(f'compressed format {fmt!r} is not supported; use jpeg or png')
    if not 1 <= int(quality) <= 100:
        raise ConfigurationError(f'JPEG quality {quality} is out of range; use 1 to 100')
    _check_uint8(rgb, container)

    if rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 1):
        pixels, format_string = _as_mono(rgb), f'mono8; {container} compressed mono8'
    else:
        pixels = cv2.cvtColor(_as_rgb(rgb, 'rgb8'), cv2.COLOR_RGB2BGR)
        format_string = f'rgb8; {container} compressed bgr8'

    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if container == 'jpeg' else []
    ok, encoded = cv2.imencode('.jpg' if container == 'jpeg' else '.png', pixels, params)
    if not ok:
        raise FrameError(f'OpenCV failed to encode a {pixels.shape} array as {container}')
    return format_string, encoded.tobytes()
