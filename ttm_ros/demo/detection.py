"""Detection column of a demo run: box labels, saved detections and mAP@50.

The recorder writes `<frame>_detections.json` for every frame the detection node
published detections for (see `detections_document`). Boxes there are corners
[x_min, y_min, x_max, y_max] in pixels of the input frame, continuous coordinates with
the origin at the top-left corner of the top-left pixel, so x_max <= width and
y_max <= height. The summary is recomputed from those files, so the summary and the
files cannot disagree.

Box labels (`--boxes`) are either one COCO JSON file, whose images are matched to
frames by the frame id of `file_name`, or a folder of Pascal VOC XML files, matched
by the frame id of the XML file name.
"""

from __future__ import annotations

import collections
import json
import pathlib
import xml.etree.ElementTree as ElementTree
from typing import Dict, List, Optional, Sequence

from ttm_ros.core import labels
from ttm_ros.core.detection_metrics import (GroundTruth, GroundTruthBox, PredictedBox,
                                            evaluate_map50, load_coco_ground_truth)
from ttm_ros.core.errors import ConfigurationError

#: Topic (relative to the node namespace) -> output file suffix, of the detection node.
DETECTIONS_TOPIC = 'detection/detections'
OVERLAY_TOPIC = 'detection/overlay'
TIMING_TOPIC = 'detection/timing'
DETECTIONS_SUFFIX = 'detections'
OVERLAY_SUFFIX = 'detection_overlay'
TIMING_SUFFIX = 'detection_timing'
BOX_FORMAT = ('corners [x_min, y_min, x_max, y_max] in pixels of the input frame; continuous '
              'coordinates, origin at the top-left corner of the top-left pixel')
MAP50_DEFINITION = (
    'mAP@50: pycocotools COCOeval at the single IoU threshold 0.5 (101 recall points, at most '
    '100 detections per image, area range all), the mean of the per-class AP over the classes '
    'with at least one labelled box; only frames with box labels count, and detections of '
    'labels outside the box-label classes are left out and counted')


def detections_path(out_dir: pathlib.Path, frame: str) -> pathlib.Path:
    """Return the file of the detections of `frame` (`<frame>_detections.json`)."""
    return out_dir / f'{frame}_{DETECTIONS_SUFFIX}.json'


def detections_document(detections: Sequence, stamp_ns: int, frame_id: str,
                        width: int, height: int) -> dict:
    """Return the JSON document of one frame's detections (`Detection` objects)."""
    return {
        'stamp_ns': stamp_ns, 'frame_id': frame_id, 'width': width, 'height': height,
        'box_format': BOX_FORMAT,
        'detections': [{'box': [float(v) for v in detection.box], 'label': detection.label,
                        'score': float(detection.score)} for detection in detections],
    }


def boxes_outside(detections: Sequence, width: int, height: int) -> List[str]:
    """Return one problem line per box that is empty or reaches outside the frame."""
    problems = []
    for detection in detections:
        x_min, y_min, x_max, y_max = detection.box
        if not (0.0 <= x_min < x_max <= width and 0.0 <= y_min < y_max <= height):
            problems.append(f'detections: box {[round(v, 2) for v in detection.box]} '
                            f'({detection.label}) is empty or outside the {width}x{height} frame')
    return problems


def read_detections(out_dir: pathlib.Path, frame: str) -> Optional[List[dict]]:
    """Return the saved detections of `frame`, or None when the file is missing."""
    path = detections_path(out_dir, frame)
    if not path.is_file():
        return None
    return json.loads(path.read_text())['detections']


def load_box_labels(source: pathlib.Path, frames: Sequence[str]) -> GroundTruth:
    """Return the box labels of `frames` from a COCO JSON file or a VOC XML folder.

    Only frames of the run count. Raises ConfigurationError when the source is
    missing or labels none of the frames.
    """
    if source.is_dir():
        ground_truth = _load_voc_folder(source)
    elif source.is_file():
        ground_truth = load_coco_ground_truth(source)
    else:
        raise ConfigurationError(f'box labels {source} not found; give a COCO JSON file or a '
                                 'folder of Pascal VOC XML files')
    keys = {key: labels.frame_id(key) for key in ground_truth.images}
    wanted = set(frames)
    images = {keys[key]: size for key, size in ground_truth.images.items() if keys[key] in wanted}
    if not images:
        raise ConfigurationError(
            f'no box label in {source} matches a frame; images are matched by frame id (file name '
            f'without folder, extension and dataset suffix), e.g. {frames[0]}.jpg or {frames[0]}.xml')
    boxes = [GroundTruthBox(keys[box.image], box.box, box.label, box.crowd)
             for box in ground_truth.boxes if keys[box.image] in images]
    return GroundTruth(images, boxes, ground_truth.classes)


def _load_voc_folder(folder: pathlib.Path) -> GroundTruth:
    """Read every `*.xml` of `folder` as Pascal VOC boxes; classes in sorted order."""
    from ttm_ros.eval.datasets import read_voc_boxes

    images, boxes = {}, []
    for path in sorted(folder.glob('*.xml')):
        boxes += [GroundTruthBox(path.stem, (box.x0, box.y0, box.x1, box.y1), box.label)
                  for box in read_voc_boxes(path)]  # Raises ConfigurationError on bad XML.
        images[path.stem] = _voc_size(path)
    if not images:
        raise ConfigurationError(f'{folder} contains no Pascal VOC *.xml file; give a folder of '
                                 'VOC XML files or a COCO JSON file')
    return GroundTruth(images, boxes, tuple(sorted({box.label for box in boxes})))


def _voc_size(path: pathlib.Path) -> tuple:
    """Return (height, width) of a VOC XML file's <size>, or (0, 0) when it has none."""
    size = ElementTree.parse(path).getroot().find('size')
    if size is None:
        return 0, 0  # COCOeval's area range "all" does not use the image size.
    return int(float(size.findtext('height', '0'))), int(float(size.findtext('width', '0')))


def detection_column(out_dir: pathlib.Path, frames: Sequence[str],
                     ground_truth: Optional[GroundTruth]) -> Dict[str, object]:
    """Return the `detection` section of summary.json from the saved detection files.

    Per frame: the box count and the count per label (None for a frame without a
    detections file). With box labels, mAP@50 overall and per class as defined in
    MAP50_DEFINITION.
    """
    per_frame: Dict[str, Optional[dict]] = {}
    for frame in frames:
        detections = read_detections(out_dir, frame)
        per_frame[frame] = None if detections is None else {
            'boxes': len(detections),
            'by_label': dict(collections.Counter(d['label'] for d in detections))}
    column: Dict[str, object] = {'box_format': BOX_FORMAT, 'boxes_per_frame': per_frame}
    if ground_truth is not None:
        column.update(score_map50(out_dir, ground_truth))
    return column


def score_map50(out_dir: pathlib.Path, ground_truth: GroundTruth) -> Dict[str, object]:
    """Return mAP@50 of the saved detections of the labelled frames (see MAP50_DEFINITION)."""
    predictions: List[PredictedBox] = []
    other_classes = 0
    missing = []
    for frame in sorted(ground_truth.images):
        detections = read_detections(out_dir, frame)
        if detections is None:
            missing.append(frame)  # Scored as a frame without detections.
            continue
        for detection in detections:
            if detection['label'] not in ground_truth.classes:
                other_classes += 1
                continue
            predictions.append(PredictedBox(frame, tuple(detection['box']), detection['score'],
                                            detection['label']))
    scores = evaluate_map50(ground_truth, predictions).as_dict()
    return {**scores, 'map50_definition': MAP50_DEFINITION,
            'labelled_frames': sorted(ground_truth.images),
            'labelled_frames_without_detections_file': missing,
            'predictions_of_other_classes': other_classes}
