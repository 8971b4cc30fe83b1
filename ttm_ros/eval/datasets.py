"""Evaluation inputs: dataset folders in their published layouts and rosbag2 camera topics.

Every reader returns a `Dataset`: a task (`segmentation`, `detection`,
`classification`) and a list of `Sample`s, each with a frame id, an image loader and
its ground truth (a trainId mask loader, boxes, or an ImageNet-1k class index).
`open_dataset` detects the layout of a folder; the layouts it looks for are:

| layout | images | ground truth |
|---|---|---|
| cityscapes | leftImg8bit/<split>/<city>/*_leftImg8bit.png | gtFine/<split>/<city>/*_gtFine_labelIds.png (or labelTrainIds) |
| acdc | rgb_anon/<condition>/<split>/<sequence>/*_rgb_anon.png | gt/<condition>/<split>/<sequence>/*_gt_labelTrainIds.png |
| dark-zurich | rgb_anon/<split>/<condition>/<sequence>/*_rgb_anon.png | gt/<split>/<condition>/<sequence>/*_gt_labelTrainIds.png |
| bdd100k-sem | images/10k/<split>/*.jpg | labels/sem_seg/masks/<split>/*.png (trainIds) |
| bdd100k-det | images/100k/<split>/*.jpg | labels/det_20/det_<split>.json |
| voc | images/ or JPEGImages/ | annotations_voc/ or Annotations/ (*.xml) |
| coco | images/ | annotations_coco.json or annotations/*.json |
| imagenet-r | <wnid>/*.jpg (200 folders) | the folder's WordNet id |
| folder | images/ | labels/ (trainId or colour PNGs matched by frame id) |

BDD100K frames get the attributes (weather, scene, timeofday) of the attribute
file (`labels/det_20/det_<split>.json` or `labels/bdd100k_labels_images_<split>.json`),
so scores can be split by time of day.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import xml.etree.ElementTree as ElementTree
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np

from ttm_ros.core import labels
from ttm_ros.core.detection_metrics import BDD100K_CATEGORY_MAP
from ttm_ros.core.errors import ConfigurationError, FrameError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.tif', '.tiff', '.webp')
IMAGENET_R_FILE = pathlib.Path(__file__).with_name('imagenet_r_classes.txt')


@dataclasses.dataclass
class Box:
    """One ground-truth box in pixels of the frame: corners (x0, y0) .. (x1, y1) and class name."""

    x0: float
    y0: float
    x1: float
    y1: float
    label: str


@dataclasses.dataclass
class Sample:
    """One frame of an evaluation set with its ground truth."""

    frame_id: str
    load_image: Callable[[], np.ndarray]
    load_label: Optional[Callable[[], np.ndarray]] = None
    boxes: Optional[List[Box]] = None
    class_index: Optional[int] = None
    stamp_ns: Optional[int] = None
    attributes: Dict[str, str] = dataclasses.field(default_factory=dict)
    source: str = ''

    def labels_sha256(self) -> str:
        """Return the sha256 hex digest of the frame's ground truth (label mask, boxes or class)."""
        digest = hashlib.sha256()
        if self.load_label is not None:
            label = self.load_label()
            digest.update(repr(label.shape).encode())
            digest.update(np.ascontiguousarray(label).tobytes())
        if self.boxes is not None:
            digest.update(json.dumps(sorted(dataclasses.astuple(box) for box in self.boxes)).encode())
        if self.class_index is not None:
            digest.update(str(self.class_index).encode())
        return digest.hexdigest()


@dataclasses.dataclass
class Dataset:
    """Samples of one task read from one layout."""

    layout: str
    task: str
    root: pathlib.Path
    samples: List[Sample]
    class_names: Sequence[str] = ()

    def __post_init__(self) -> None:
        ids = [sample.frame_id for sample in self.samples]
        if len(set(ids)) != len(ids):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ConfigurationError(f'{self.layout} set {self.root} has frames sharing a frame id: '
                                     f'{", ".join(duplicates)}; frame ids must be unique')
        if not self.samples:
            raise ConfigurationError(f'no frames with ground truth found in {self.root} ({self.layout} layout)')


def read_rgb(path: pathlib.Path) -> np.ndarray:
    """Return an image file as RGB uint8 (H, W, 3)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FrameError(f'cannot read image {path}; check that it is a valid image file')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _image_loader(path: pathlib.Path) -> Callable[[], np.ndarray]:
    return lambda: read_rgb(path)


def _label_loader(path: pathlib.Path) -> Callable[[], np.ndarray]:
    return lambda: labels.load_label(path)


def _images_under(folder: pathlib.Path) -> List[pathlib.Path]:
    return sorted(p for p in folder.rglob('*') if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


# ---------------------------------------------------------------------------------
# Segmentation layouts


def segmentation_pairs(images: Sequence[pathlib.Path], label_dir: pathlib.Path, layout: str,
                       root: pathlib.Path, image_suffix: str = '') -> Dataset:
    """Return a segmentation set of the images that have a label in `label_dir` (by frame id)."""
    available = labels.find_labels(label_dir)
    samples = []
    for path in images:
        if image_suffix and not path.stem.endswith(image_suffix):
            continue
        frame = _bdd_frame_id(labels.frame_id(path))
        label = available.get(frame)
        if label is None:
            continue
        samples.append(Sample(frame, _image_loader(path), _label_loader(label),
                              attributes=_condition(path), source=str(path)))
    return Dataset(layout, 'segmentation', root, samples, labels.CITYSCAPES_CLASSES)


_CONDITIONS = ('fog', 'night', 'rain', 'snow', 'day', 'twilight', 'clear')


def _condition(path: pathlib.Path) -> Dict[str, str]:
    found = [part for part in path.parts if part in _CONDITIONS]
    return {'condition': found[-1]} if found else {}


def _bdd_frame_id(frame: str) -> str:
    # BDD100K's older semantic labels end in _train_id / _train_color.
    for suffix in ('_train_id', '_train_color'):
        if frame.endswith(suffix):
            return frame[:-len(suffix)]
    return frame


def read_cityscapes(root: pathlib.Path, split: str = 'val') -> Dataset:
    """Read Cityscapes: leftImg8bit/<split> images, gtFine/<split> labelIds mapped to trainIds."""
    return segmentation_pairs(_images_under(root / 'leftImg8bit' / split), root / 'gtFine' / split,
                              'cityscapes', root)


def read_anon_layout(root: pathlib.Path, layout: str, split: str = 'val') -> Dataset:
    """Read ACDC or Dark Zurich (rgb_anon/ images, gt/ labels) from the paths that contain a `split` folder."""
    images = [p for p in _images_under(root / 'rgb_anon') if split in p.relative_to(root).parts]
    return segmentation_pairs(images, root / 'gt', layout, root)


def read_bdd100k_semantic(root: pathlib.Path, split: str = 'val') -> Dataset:
    """Read BDD100K semantic segmentation (10k images, trainId masks) with the frame attributes."""
    candidates = [(root / 'images' / '10k' / split, root / 'labels' / 'sem_seg' / 'masks' / split),
                  (root / 'seg' / 'images' / split, root / 'seg' / 'labels' / split)]
    for image_dir, label_dir in candidates:
        if image_dir.is_dir() and label_dir.is_dir():
            dataset = segmentation_pairs(_images_under(image_dir), label_dir, 'bdd100k-sem', root)
            _attach_bdd_attributes(dataset, root, split)
            return dataset
    raise ConfigurationError(f'{root} has no BDD100K semantic layout; looked for '
                             + ' and '.join(f'{a}/ with {b}/' for a, b in candidates))


def read_image_folder(images: pathlib.Path, label_dir: pathlib.Path) -> Dataset:
    """Read a folder of images and a folder of label PNGs, matched by frame id (label files are not frames)."""
    if not images.is_dir():
        raise ConfigurationError(f'image folder {images} not found; pass --images DIR')
    frames = [path for path in _images_under(images) if labels.label_kind(path) is None]
    return segmentation_pairs(frames, label_dir, 'folder', images)


# ---------------------------------------------------------------------------------
# BDD100K attributes and detection


def _bdd_attribute_file(root: pathlib.Path, split: str) -> Optional[pathlib.Path]:
    for path in (root / 'labels' / 'det_20' / f'det_{split}.json',
                 root / 'labels' / f'bdd100k_labels_images_{split}.json'):
        if path.is_file():
            return path
    return None


def _attach_bdd_attributes(dataset: Dataset, root: pathlib.Path, split: str) -> None:
    path = _bdd_attribute_file(root, split)
    if path is None:
        return
    attributes = {pathlib.Path(frame['name']).stem: frame.get('attributes') or {}
                  for frame in json.loads(path.read_text())}
    for sample in dataset.samples:
        for key, value in attributes.get(sample.frame_id, {}).items():
            sample.attributes[key] = str(value)


def bdd100k_boxes(frame: dict) -> List[Box]:
    """Return the boxes of one BDD100K label frame, category names mapped to COCO names.

    BDD100K names pedestrian, motor and bike what COCO-trained detectors name person,
    motorcycle and bicycle (`BDD100K_CATEGORY_MAP`). Labels without `box2d` (lanes,
    drivable area) are skipped.
    """
    return [Box(b['box2d']['x1'], b['box2d']['y1'], b['box2d']['x2'], b['box2d']['y2'],
                BDD100K_CATEGORY_MAP.get(b['category'], b['category']))
            for b in frame.get('labels') or [] if 'box2d' in b]


def read_bdd100k_detection(root: pathlib.Path, split: str = 'val') -> Dataset:
    """Read BDD100K detection: images/100k/<split> with boxes and attributes from det_<split>.json."""
    path = _bdd_attribute_file(root, split)
    image_dir = root / 'images' / '100k' / split
    if path is None or not image_dir.is_dir():
        raise ConfigurationError(f'{root} has no BDD100K detection layout; looked for {image_dir}/ and '
                                 f'labels/det_20/det_{split}.json')
    samples = []
    for frame in json.loads(path.read_text()):
        image = image_dir / frame['name']
        if not image.is_file():
            continue
        samples.append(Sample(image.stem, _image_loader(image), boxes=bdd100k_boxes(frame), source=str(image),
                              attributes={k: str(v) for k, v in (frame.get('attributes') or {}).items()}))
    names = sorted({box.label for sample in samples for box in sample.boxes})
    return Dataset('bdd100k-det', 'detection', root, samples, names)


# ---------------------------------------------------------------------------------
# Detection: Pascal VOC XML and COCO JSON


def read_voc_boxes(path: pathlib.Path) -> List[Box]:
    """Return the boxes of one Pascal VOC XML file (pixel corners, class name)."""
    try:
        tree = ElementTree.parse(path)
    except ElementTree.ParseError as error:
        raise ConfigurationError(f'cannot parse VOC annotation {path}: {error}') from error
    boxes = []
    for item in tree.getroot().iter('object'):
        box = item.find('bndbox')
        corners = [float(box.find(tag).text) for tag in ('xmin', 'ymin', 'xmax', 'ymax')]
        boxes.append(Box(*corners, item.find('name').text.strip()))
    return boxes


def read_voc(root: pathlib.Path) -> Dataset:
    """Read Pascal VOC boxes: images/ (or JPEGImages/) with annotations_voc/ (or Annotations/) XML files."""
    image_dir = next((root / d for d in ('images', 'JPEGImages') if (root / d).is_dir()), None)
    xml_dir = next((root / d for d in ('annotations_voc', 'Annotations') if (root / d).is_dir()), None)
    if image_dir is None or xml_dir is None:
        raise ConfigurationError(f'{root} has no VOC layout; looked for images/ or JPEGImages/ and '
                                 'annotations_voc/ or Annotations/')
    images = {path.stem: path for path in _images_under(image_dir)}
    samples = [Sample(xml.stem, _image_loader(images[xml.stem]), boxes=read_voc_boxes(xml),
                      source=str(images[xml.stem]))
               for xml in sorted(xml_dir.glob('*.xml')) if xml.stem in images]
    names = sorted({box.label for sample in samples for box in sample.boxes})
    return Dataset('voc', 'detection', root, samples, names)


def read_coco_boxes(path: pathlib.Path) -> Dict[str, dict]:
    """Return {file name: {'id', 'boxes'}} of a COCO JSON file (bbox [x, y, w, h] in pixels)."""
    try:
        document = json.loads(path.read_text())
        categories = {c['id']: c['name'] for c in document['categories']}
        entries = {image['id']: {'file_name': image['file_name'], 'id': image['id'], 'boxes': []}
                   for image in document['images']}
        for annotation in document.get('annotations', []):
            x, y, width, height = annotation['bbox']
            entries[annotation['image_id']]['boxes'].append(
                Box(x, y, x + width, y + height, categories[annotation['category_id']]))
    except KeyError as error:
        raise ConfigurationError(f'COCO annotations {path} lack the key {error}; a COCO file needs images, '
                                 'annotations and categories') from error
    except (OSError, ValueError) as error:
        raise ConfigurationError(f'cannot read COCO annotations {path}: {error}; give a COCO JSON file with '
                                 'images, annotations and categories') from error
    return {entry['file_name']: entry for entry in entries.values()}


def read_coco(root: pathlib.Path, annotation_file: Optional[pathlib.Path] = None) -> Dataset:
    """Read COCO boxes: images/ with annotations_coco.json (or the only annotations/*.json)."""
    path = annotation_file or _coco_file(root)
    image_dir = root / 'images' if (root / 'images').is_dir() else root
    samples = []
    for file_name, entry in sorted(read_coco_boxes(path).items()):
        image = image_dir / file_name
        if image.is_file():
            samples.append(Sample(labels.frame_id(file_name), _image_loader(image), boxes=entry['boxes'],
                                  source=str(image)))
    names = sorted({box.label for sample in samples for box in sample.boxes})
    return Dataset('coco', 'detection', root, samples, names)


def _coco_file(root: pathlib.Path) -> pathlib.Path:
    candidates = [root / 'annotations_coco.json', *sorted((root / 'annotations').glob('*.json'))]
    found = [path for path in candidates if path.is_file()]
    if len(found) != 1:
        raise ConfigurationError(f'{root}: expected one COCO JSON file (annotations_coco.json or '
                                 f'annotations/*.json), found {len(found)}; pass --annotations FILE')
    return found[0]


# ---------------------------------------------------------------------------------
# Classification: ImageNet-R


def imagenet_r_classes() -> Dict[str, int]:
    """Return {WordNet id: ImageNet-1k class index} of the 200 ImageNet-R classes."""
    table = {}
    for line in IMAGENET_R_FILE.read_text().splitlines():
        if line and not line.startswith('#'):
            wnid, index, _ = line.split(' ', 2)
            table[wnid] = int(index)
    return table


def read_imagenet_r(root: pathlib.Path) -> Dataset:
    """Read ImageNet-R: one folder per WordNet id, whose ImageNet-1k index is the class of its images."""
    table = imagenet_r_classes()
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in table)
    if unknown:
        raise ConfigurationError(f'{root}: folders {", ".join(unknown[:5])} are not ImageNet-R WordNet ids')
    samples = [Sample(f'{folder.name}/{path.stem}', _image_loader(path), class_index=table[folder.name],
                      source=str(path))
               for folder in sorted(p for p in root.iterdir() if p.is_dir())
               for path in _images_under(folder)]
    return Dataset('imagenet-r', 'classification', root, samples)


# ---------------------------------------------------------------------------------
# Layout detection


def detect_layout(root: pathlib.Path) -> str:
    """Return the layout name of a dataset folder, or raise listing what was looked for."""
    checks = [
        ('cityscapes', (root / 'leftImg8bit').is_dir() and (root / 'gtFine').is_dir()),
        ('dark-zurich', (root / 'rgb_anon').is_dir() and (root / 'gt').is_dir()
         and any((root / 'rgb_anon' / s).is_dir() for s in ('val', 'train', 'test'))),
        ('acdc', (root / 'rgb_anon').is_dir() and (root / 'gt').is_dir()),
        ('bdd100k-sem', (root / 'images' / '10k').is_dir() or (root / 'seg' / 'images').is_dir()),
        ('bdd100k-det', (root / 'images' / '100k').is_dir()),
        ('voc', any((root / d).is_dir() for d in ('annotations_voc', 'Annotations'))),
        ('coco', (root / 'annotations_coco.json').is_file() or (root / 'annotations').is_dir()),
        ('imagenet-r', root.is_dir() and any(p.is_dir() and p.name in imagenet_r_classes()
                                             for p in root.iterdir())),
        ('folder', (root / 'images').is_dir() and (root / 'labels').is_dir()),
    ]
    for name, found in checks:
        if found:
            return name
    raise ConfigurationError(
        f'cannot tell the dataset layout of {root}; looked for leftImg8bit/ + gtFine/ (Cityscapes), '
        'rgb_anon/ + gt/ (ACDC, Dark Zurich), images/10k/ or images/100k/ (BDD100K), annotations_voc/ '
        'or Annotations/ (VOC), annotations_coco.json or annotations/ (COCO), WordNet-id folders '
        '(ImageNet-R), images/ + labels/ (plain folder); pass --layout to choose one')


LAYOUTS = ('cityscapes', 'acdc', 'dark-zurich', 'bdd100k-sem', 'bdd100k-det', 'voc', 'coco', 'imagenet-r',
           'folder')


def open_dataset(root: pathlib.Path, layout: str = 'auto', split: str = 'val') -> Dataset:
    """Read the dataset folder `root` in `layout` ('auto' detects it)."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise ConfigurationError(f'dataset folder {root} not found')
    layout = detect_layout(root) if layout == 'auto' else layout
    readers = {
        'cityscapes': lambda: read_cityscapes(root, split),
        'acdc': lambda: read_anon_layout(root, 'acdc', split),
        'dark-zurich': lambda: read_anon_layout(root, 'dark-zurich', split),
        'bdd100k-sem': lambda: read_bdd100k_semantic(root, split),
        'bdd100k-det': lambda: read_bdd100k_detection(root, split),
        'voc': lambda: read_voc(root),
        'coco': lambda: read_coco(root),
        'imagenet-r': lambda: read_imagenet_r(root),
        'folder': lambda: read_image_folder(root / 'images', root / 'labels'),
    }
    if layout not in readers:
        raise ConfigurationError(f'dataset layout {layout!r} is unknown; choose one of {", ".join(LAYOUTS)}')
    return readers[layout]()
