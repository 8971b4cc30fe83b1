"""Cityscapes label definitions and label-file readers.

Masks in ttm_ros hold Cityscapes trainIds: 0..18 for the 19 training classes in their
standard order (road .. bicycle) and `IGNORE` (255) for everything else. The tables
below follow the official Cityscapes label definition (cityscapesScripts,
`helpers/labels.py`): labelIds 0..33, their trainIds and their colours.

Label files on disk come in three forms, which `load_label` distinguishes (see there):
trainId PNGs (`*_labelTrainIds.png`), labelId PNGs (`*_labelIds.png`) and colour PNGs
(`*_color.png`, ACDC `*_labelColor.png`).
"""

from __future__ import annotations

import pathlib
import re
from typing import Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ttm_ros.core.errors import ConfigurationError, FrameError

PathLike = Union[str, 'pathlib.PurePath']

IGNORE = 255
NUM_CLASSES = 19


class CityscapesLabel(NamedTuple):
    """One row of the official Cityscapes label table."""

    name: str
    label_id: int
    train_id: int
    color: Tuple[int, int, int]


# Official table: name, labelId, trainId (255 = not a training class), colour (RGB).
# 'license plate' (labelId -1) never appears in labelId images and is left out.
CITYSCAPES_LABELS: Tuple[CityscapesLabel, ...] = tuple(CityscapesLabel(*row) for row in (
    ('unlabeled', 0, 255, (0, 0, 0)),
    ('ego vehicle', 1, 255, (0, 0, 0)),
    ('rectification border', 2, 255, (0, 0, 0)),
    ('out of roi', 3, 255, (0, 0, 0)),
    ('static', 4, 255, (0, 0, 0)),
    ('dynamic', 5, 255, (111, 74, 0)),
    ('ground', 6, 255, (81, 0, 81)),
    ('road', 7, 0, (128, 64, 128)),
    ('sidewalk', 8, 1, (244, 35, 232)),
    ('parking', 9, 255, (250, 170, 160)),
    ('rail track', 10, 255, (230, 150, 140)),
    ('building', 11, 2, (70, 70, 70)),
    ('wall', 12, 3, (102, 102, 156)),
    ('fence', 13, 4, (190, 153, 153)),
    ('guard rail', 14, 255, (180, 165, 180)),
    ('bridge', 15, 255, (150, 100, 100)),
    ('tunnel', 16, 255, (150, 120, 90)),
    ('pole', 17, 5, (153, 153, 153)),
    ('polegroup', 18, 255, (153, 153, 153)),
    ('traffic light', 19, 6, (250, 170, 30)),
    ('traffic sign', 20, 7, (220, 220, 0)),
    ('vegetation', 21, 8, (107, 142, 35)),
    ('terrain', 22, 9, (152, 251, 152)),
    ('sky', 23, 10, (70, 130, 180)),
    ('person', 24, 11, (220, 20, 60)),
    ('rider', 25, 12, (255, 0, 0)),
    ('car', 26, 13, (0, 0, 142)),
    ('truck', 27, 14, (0, 0, 70)),
    ('bus', 28, 15, (0, 60, 100)),
    ('caravan', 29, 255, (0, 0, 90)),
    ('trailer', 30, 255, (0, 0, 110)),
    ('train', 31, 16, (0, 80, 100)),
    ('motorcycle', 32, 17, (0, 0, 230)),
    ('bicycle', 33, 18, (119, 11, 32)),
))

_TRAIN_LABELS = sorted((label for label in CITYSCAPES_LABELS if label.train_id != IGNORE),
                       key=lambda label: label.train_id)

#: The 19 training class names; index i is trainId i.
CITYSCAPES_CLASSES: Tuple[str, ...] = tuple(label.name for label in _TRAIN_LABELS)

#: RGB colour of each training class, (19, 3) uint8; row i is trainId i.
CITYSCAPES_COLORS: np.ndarray = np.array([label.color for label in _TRAIN_LABELS], dtype=np.uint8)
CITYSCAPES_COLORS.setflags(write=False)

# labelId -> trainId lookup table over every uint8 value (ids above 33 map to IGNORE).
_LABEL_ID_TO_TRAIN_ID = np.full(256, IGNORE, dtype=np.uint8)
for _label in CITYSCAPES_LABELS:
    _LABEL_ID_TO_TRAIN_ID[_label.label_id] = _label.train_id

# trainId -> colour lookup table over every uint8 value (IGNORE and 19..254 are black).
_TRAIN_ID_TO_COLOR = np.zeros((256, 3), dtype=np.uint8)
_TRAIN_ID_TO_COLOR[:NUM_CLASSES] = CITYSCAPES_COLORS

# Colours packed as 0xRRGGBB, sorted, with the trainId of each.
_PACKED_COLORS = (CITYSCAPES_COLORS[:, 0].astype(np.int64) << 16
                  | CITYSCAPES_COLORS[:, 1].astype(np.int64) << 8
                  | CITYSCAPES_COLORS[:, 2].astype(np.int64))
_COLOR_ORDER = np.argsort(_PACKED_COLORS)
_SORTED_PACKED_COLORS = _PACKED_COLORS[_COLOR_ORDER]


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map Cityscapes labelIds (0..33) to trainIds; every other value becomes `IGNORE`.

    Accepts any integer array; returns a uint8 array of the same shape.
    """
    label_ids = np.asarray(label_ids)
    if not np.issubdtype(label_ids.dtype, np.integer):
        raise FrameError(f'labelIds must be an integer array, got dtype {label_ids.dtype}')
    if label_ids.dtype == np.uint8:
        return _LABEL_ID_TO_TRAIN_ID[label_ids]
    in_table = (label_ids >= 0) & (label_ids <= 255)
    return _LABEL_ID_TO_TRAIN_ID[np.where(in_table, label_ids, 255)]


def color_to_train_ids(rgb: np.ndarray) -> np.ndarray:
    """Map a Cityscapes colour label (H, W, 3 or 4; RGB order) to trainIds by exact match.

    A pixel whose RGB value is one of the 19 training colours gets that trainId; every
    other colour (black, parking, guard rail, ...) becomes `IGNORE`. An alpha channel
    is ignored. Colours shared by two labelIds map to the training class
    (polegroup pixels become pole).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8:
        raise FrameError(
            f'a colour label must be uint8 (H, W, 3) or (H, W, 4), got {rgb.dtype} {rgb.shape}')
    packed = (rgb[..., 0].astype(np.int64) << 16
              | rgb[..., 1].astype(np.int64) << 8
              | rgb[..., 2].astype(np.int64))
    position = np.searchsorted(_SORTED_PACKED_COLORS, packed)
    position = np.minimum(position, NUM_CLASSES - 1)
    matched = _SORTED_PACKED_COLORS[position] == packed
    train_ids = _COLOR_ORDER[position].astype(np.uint8)
    return np.where(matched, train_ids, np.uint8(IGNORE))


def train_ids_to_color(mask: np.ndarray) -> np.ndarray:
    """Return the RGB colour image (H, W, 3) uint8 of a trainId mask; non-classes are black."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise FrameError(f'a trainId mask must be an integer (H, W) array, got {mask.dtype} {mask.shape}')
    if mask.dtype != np.uint8:
        mask = np.where((mask >= 0) & (mask < NUM_CLASSES), mask, IGNORE).astype(np.uint8)
    return _TRAIN_ID_TO_COLOR[mask]


def overlay(rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the colour of a trainId mask into an RGB frame.

    Pixels with a trainId become `(1 - alpha) * rgb + alpha * colour`; pixels without
    one (`IGNORE` and other non-class values) keep the frame's colour. Returns uint8
    (H, W, 3).
    """
    rgb = np.asarray(rgb)
    mask = np.asarray(mask)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'overlay alpha={alpha} is invalid; use a value in [0, 1]')
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise FrameError(f'overlay needs an RGB uint8 (H, W, 3) frame, got {rgb.dtype} {rgb.shape}')
    if mask.shape != rgb.shape[:2]:
        raise FrameError(f'overlay mask shape {mask.shape} differs from the frame size {rgb.shape[:2]}')

    colors = train_ids_to_color(mask).astype(np.float32)
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colors
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    labelled = ((mask >= 0) & (mask < NUM_CLASSES))[..., None]
    return np.where(labelled, blended, rgb)


# File-name suffixes of image and label files in Cityscapes, ACDC, Foggy Cityscapes and
# the mmsegmentation layouts, removed by `frame_id`. The group 'kind' names the label type.
_IMAGE_SUFFIX = r'_(?:leftImg8bit(?:_foggy_beta_[0-9.]+)?|rgb_anon)'
_LABEL_SUFFIX = (r'(?:_gt(?:Fine|Coarse)?)?_(?P<kind>labelTrainIds|trainIds|labelIds|color|labelColor'
                 r'|instanceIds|instanceTrainIds|polygons|invIds|invGray)')
_SUFFIX_PATTERN = re.compile(f'(?:{_IMAGE_SUFFIX}|{_LABEL_SUFFIX})$')
# A bare `_color` or `_trainIds` (without a `_gt*` prefix) is too common in ordinary
# names to strip; only these kinds are stripped without the prefix.
_BARE_LABEL_KINDS = ('labelTrainIds', 'labelIds', 'labelColor')
_FILE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm',
                    '.npy', '.json', '.xml', '.txt')

# Label kinds that `find_labels` collects, best first; the others are not semantic labels.
_LABEL_KIND_PRIORITY = {'labelTrainIds': 0, 'trainIds': 0, 'labelIds': 1, 'color': 2, 'labelColor': 2}
_UNKNOWN_KIND_PRIORITY = 3
_LABEL_FILE_EXTENSIONS = ('.png', '.bmp', '.tif', '.tiff')


def _split_name(path_or_name: PathLike) -> Tuple[str, Optional[str], bool]:
    """Return (frame id, label kind or None, whether an image suffix was removed)."""
    name = pathlib.PurePath(path_or_name).name
    stem, dot, extension = name.rpartition('.')
    if dot and ('.' + extension.lower()) in _FILE_EXTENSIONS:
        name = stem
    match = _SUFFIX_PATTERN.search(name)
    if match is None:
        return name, None, False
    kind = match.group('kind')
    has_gt_prefix = match.group(0).startswith('_gt')
    if kind is not None and not has_gt_prefix and kind not in _BARE_LABEL_KINDS:
        return name, None, False
    return name[:match.start()], kind, kind is None


def frame_id(path_or_name: PathLike) -> str:
    """Return the frame id of an image or label file name.

    Removes the folder, a known extension (.png, .jpg, ...) and one dataset suffix.
    Image suffixes are `_leftImg8bit` (also Foggy Cityscapes
    `_leftImg8bit_foggy_beta_0.02`) and ACDC `_rgb_anon`. Label suffixes are
    `_gtFine_*`, `_gtCoarse_*` and `_gt_*` (labelTrainIds, trainIds, labelIds, color,
    labelColor, instanceIds, instanceTrainIds, polygons, invIds, invGray), or a bare
    `_labelTrainIds`, `_labelIds`, `_labelColor`. So
    `frankfurt_000000_000294_leftImg8bit.png` and
    `frankfurt_000000_000294_gtFine_labelTrainIds.png` both give
    `frankfurt_000000_000294`. A name without a known suffix is returned without its
    extension.
    """
    return _split_name(path_or_name)[0]


def label_kind(path_or_name: PathLike) -> Optional[str]:
    """Return the label suffix kind of a file name ('labelTrainIds', 'labelIds', 'color', ...) or None."""
    return _split_name(path_or_name)[1]


def load_label(path: PathLike, kind: str = 'auto') -> np.ndarray:
    """Read a label image and return its trainId mask, uint8 (H, W), 255 = ignore.

    Detection rule for `kind='auto'`, applied in this order:
    1. an image with 3 or 4 channels (RGB or RGBA PNG) is a colour label and is mapped
       by exact RGB match to the 19 training colours (`color_to_train_ids`);
    2. a single-channel image whose name ends in `labelIds` (`_gtFine_labelIds.png`,
       `_gt_labelIds.png`) holds Cityscapes labelIds (`label_ids_to_train_ids`);
    3. any other single-channel image (8-bit, 16-bit or palette indices) contains
       trainIds; values above 18 become 255, because labels resized with
       interpolation contain such in-between values.
    `kind` may force 'trainIds', 'labelIds' or 'color'.
    """
    path = pathlib.Path(path)
    if kind not in ('auto', 'trainIds', 'labelIds', 'color'):
        raise ValueError(f'label kind {kind!r} is invalid; use auto, trainIds, labelIds or color')
    try:
        with Image.open(path) as image:
            array = _label_array(image)
    except FileNotFoundError as error:
        raise ConfigurationError(f'label file {path} not found; check the label folder') from error
    except OSError as error:
        raise FrameError(f'cannot read label file {path}: {error}') from error

    if kind == 'auto':
        if array.ndim == 3:
            kind = 'color'
        elif path.stem.endswith('labelIds'):
            kind = 'labelIds'
        else:
            kind = 'trainIds'
    return _to_train_ids(array, kind, path)


def _label_array(image: Image.Image) -> np.ndarray:
    """Return the pixel values of a label image: (H, W) ids or (H, W, 3|4) colours."""
    if image.mode in ('RGB', 'RGBA'):
        return np.asarray(image)
    if image.mode in ('L', 'P', 'I', 'I;16', 'I;16B', 'I;16L'):
        return np.asarray(image)
    if image.mode == 'LA':
        return np.asarray(image)[..., 0]
    raise FrameError(f'label image mode {image.mode!r} is not supported; use 8/16-bit ids or RGB(A) colours')


def _to_train_ids(array: np.ndarray, kind: str, path: pathlib.Path) -> np.ndarray:
    if kind == 'color':
        if array.ndim != 3:
            raise FrameError(f'label {path} has one channel, so it is not a colour label')
        return color_to_train_ids(array)
    if array.ndim != 2:
        raise FrameError(f'label {path} has {array.shape[2]} channels; {kind} labels have one')
    if kind == 'labelIds':
        return label_ids_to_train_ids(array)
    ids = array.astype(np.int64)
    return np.where((ids >= 0) & (ids < NUM_CLASSES), ids, IGNORE).astype(np.uint8)


def find_labels(label_dir: PathLike) -> Dict[str, pathlib.Path]:
    """Return {frame id: label file} for the label images under `label_dir` (recursive).

    Image files (`_leftImg8bit`, `_rgb_anon`), instance and polygon files are skipped.
    When one frame has several label files, trainIds win over labelIds, labelIds over
    colour labels, and those over files without a known suffix.
    """
    root = pathlib.Path(label_dir)
    if not root.is_dir():
        raise ConfigurationError(f'label folder {root} not found; pass the folder that contains the label PNGs')

    best: Dict[str, Tuple[int, pathlib.Path]] = {}
    for path in sorted(root.rglob('*')):
        if not path.is_file() or path.suffix.lower() not in _LABEL_FILE_EXTENSIONS:
            continue
        frame, kind, is_image = _split_name(path)
        if is_image:
            continue
        priority = _LABEL_KIND_PRIORITY.get(kind, None) if kind else _UNKNOWN_KIND_PRIORITY
        if priority is None:
            continue
        previous = best.get(frame)
        if previous is not None and previous[0] == priority:
            raise ConfigurationError(
                f'frame {frame!r} has two label files of the same kind: {previous[1]} and {path}; '
                'keep one or pass a narrower label folder')
        if previous is None or priority < previous[0]:
            best[frame] = (priority, path)
    return {frame: best[frame][1] for frame in sorted(best)}


def resolve_class_names(spec: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """Return class names from a list or the word 'cityscapes' (the 19 training classes)."""
    if isinstance(spec, str):
        if spec.lower() == 'cityscapes':
            return CITYSCAPES_CLASSES
        raise ConfigurationError(f'class names {spec!r} are unknown; give a list of names or "cityscapes"')
    return tuple(str(name) for name in spec)


__all__ = [
    'CITYSCAPES_CLASSES', 'CITYSCAPES_COLORS', 'CITYSCAPES_LABELS', 'CityscapesLabel', 'IGNORE',
    'NUM_CLASSES', 'color_to_train_ids', 'find_labels', 'frame_id', 'label_ids_to_train_ids',
    'label_kind', 'load_label', 'overlay', 'resolve_class_names', 'train_ids_to_color',
]
