"""Replay evaluation: metrics, dataset layouts, offline runs, cache, resume, reports, bags.

Layouts are built in temporary folders from the real frames; scores are checked
against an independent recomputation with plain numpy from the saved masks.
"""

import dataclasses
import json
import shutil

import cv2
import numpy as np
import pytest

from independent_scores import independent_scores
from ttm_ros.core.errors import ConfigurationError
from ttm_ros.core.labels import label_ids_to_train_ids
from ttm_ros.core.metrics import segmentation_scores
from ttm_ros.eval import bags, datasets
from ttm_ros.eval.evaluate import comparable, evaluate_offline, plan_from_profile

MOOSS = 'acdc-mooss-1024x512'


@pytest.fixture
def shared_data(shared_data, monkeypatch):
    """Return the real-data folder with TTM_ROS_DATA pointing at it (the model YAML files use it)."""
    monkeypatch.setenv('TTM_ROS_DATA', str(shared_data))
    return shared_data


def read_mask(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def plan(tmp_path, out='out', translators=(), models=(), **options):
    return plan_from_profile('segmentation', tmp_path / out, 'cpu', {}, list(translators), list(models),
                             cache_dir=tmp_path / 'cache', progress=False, **options)


# ---------------------------------------------------------------------------------
# Metrics on hand-made arrays


def test_label_ids_two_by_three_scores_one():
    label_ids = np.array([[7, 26, 0], [24, 11, 7]], np.uint8)  # road, car, unlabeled / person, building, road
    train_ids = label_ids_to_train_ids(label_ids)
    assert train_ids.tolist() == [[0, 13, 255], [11, 2, 0]]
    prediction = np.array([[0, 13, 4], [11, 2, 0]], np.uint8)  # the unlabeled pixel may hold anything
    scores = segmentation_scores(prediction, train_ids)
    assert scores.miou == 1.0
    assert scores.pixel_accuracy == 1.0
    assert scores.valid_pixels == 5


def test_prediction_255_is_a_miss():
    label = np.array([[0, 0, 255]], np.uint8)
    prediction = np.array([[0, 255, 255]], np.uint8)
    scores = segmentation_scores(prediction, label)
    assert scores.iou[0] == 0.5
    assert scores.pixel_accuracy == 0.5
    assert scores.valid_pixels == 2


def test_empty_class_is_not_averaged():
    label = np.array([[0, 1]], np.uint8)
    prediction = np.array([[0, 1]], np.uint8)
    scores = segmentation_scores(prediction, label)
    assert np.isnan(scores.iou[5])
    assert scores.miou == 1.0


# ---------------------------------------------------------------------------------
# Dataset layouts


def copy(source, target):
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)


def mooss(shared_data):
    root = shared_data / MOOSS
    return [(path, root / 'labels' / (datasets.labels.frame_id(path) + '_gtFine_labelTrainIds.png'))
            for path in sorted((root / 'images').glob('*.png'))]


def test_cityscapes_layout_maps_label_ids(shared_data, tmp_path):
    tiny = shared_data / 'cityscapes-mmseg-tiny'
    copy(tiny / 'frankfurt_000000_000294_leftImg8bit.png',
         tmp_path / 'leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png')
    copy(tiny / 'frankfurt_000000_000294_gtFine_labelIds.png',
         tmp_path / 'gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png')
    dataset = datasets.open_dataset(tmp_path)
    assert dataset.layout == 'cityscapes'
    assert [s.frame_id for s in dataset.samples] == ['frankfurt_000000_000294']
    label = dataset.samples[0].load_label()
    label_ids = read_mask(tiny / 'frankfurt_000000_000294_gtFine_labelIds.png')
    assert np.array_equal(label, label_ids_to_train_ids(label_ids))
    # The published trainId file was downscaled on its own; it agrees on all but a few edge pixels.
    published = read_mask(tiny / 'frankfurt_000000_000294_gtFine_labelTrainIds.png')
    assert (label == published).mean() > 0.99
    assert dataset.samples[0].load_image().shape == (128, 256, 3)


@pytest.mark.parametrize('layout, image_dir, label_dir', [
    ('acdc', 'rgb_anon/{c}/val/GOPR0122', 'gt/{c}/val/GOPR0122'),
    ('dark-zurich', 'rgb_anon/val/{c}/GOPR0356', 'gt/val/{c}/GOPR0356'),
])
def test_anon_layouts(shared_data, tmp_path, layout, image_dir, label_dir):
    for index, (image, label) in enumerate(mooss(shared_data)):
        condition = ('snow', 'night', 'fog')[index]
        copy(image, tmp_path / image_dir.format(c=condition) / image.name)
        frame = datasets.labels.frame_id(image)
        copy(label, tmp_path / label_dir.format(c=condition) / f'{frame}_gt_labelTrainIds.png')
    dataset = datasets.open_dataset(tmp_path)
    assert dataset.layout == layout
    assert len(dataset.samples) == 3
    assert {s.attributes['condition'] for s in dataset.samples} == {'snow', 'night', 'fog'}
    sample = next(s for s in dataset.samples if s.frame_id == 'GOPR0122_frame_000234')
    assert sample.load_label().shape == (512, 1024)


def test_bdd100k_semantic_day_night(shared_data, tmp_path):
    attributes = []
    for index, (image, label) in enumerate(mooss(shared_data)):
        name = f'b{index}'
        rgb = cv2.imread(str(image))
        cv2.imwrite(str(tmp_path / 'x.jpg'), rgb)
        copy(tmp_path / 'x.jpg', tmp_path / f'images/10k/val/{name}.jpg')
        copy(label, tmp_path / f'labels/sem_seg/masks/val/{name}.png')
        attributes.append({'name': f'{name}.jpg', 'attributes': {'timeofday': 'night' if index == 1 else 'daytime'},
                           'labels': []})
    (tmp_path / 'labels/det_20').mkdir(parents=True)
    (tmp_path / 'labels/det_20/det_val.json').write_text(json.dumps(attributes))
    dataset = datasets.open_dataset(tmp_path)
    assert dataset.layout == 'bdd100k-sem'
    assert [s.attributes['timeofday'] for s in dataset.samples] == ['daytime', 'night', 'daytime']


def dawn_voc_files(shared_data):
    return sorted((shared_data / 'fog-boxes-dawn' / 'annotations_voc').glob('*.xml'))


def test_bdd100k_detection_layout(shared_data, tmp_path):
    frames = []
    for xml in dawn_voc_files(shared_data)[:2]:
        copy(shared_data / 'fog-boxes-dawn/images' / f'{xml.stem}.jpg', tmp_path / f'images/100k/val/{xml.stem}.jpg')
        boxes = datasets.read_voc_boxes(xml)
        frames.append({'name': f'{xml.stem}.jpg', 'attributes': {'timeofday': 'daytime'},
                       'labels': [{'category': b.label, 'box2d': {'x1': b.x0, 'y1': b.y0, 'x2': b.x1, 'y2': b.y1}}
                                  for b in boxes]})
    (tmp_path / 'labels/det_20').mkdir(parents=True)
    (tmp_path / 'labels/det_20/det_val.json').write_text(json.dumps(frames))
    dataset = datasets.open_dataset(tmp_path)
    assert dataset.layout == 'bdd100k-det'
    assert dataset.task == 'detection'
    assert len(dataset.samples[0].boxes) == len(frames[0]['labels'])


def write_bdd_detection(shared_data, root, xml_files, timeofday):
    frames = []
    for xml, time_of_day in zip(xml_files, timeofday):
        copy(shared_data / 'fog-boxes-dawn/images' / f'{xml.stem}.jpg', root / f'images/100k/val/{xml.stem}.jpg')
        frames.append({'name': f'{xml.stem}.jpg', 'attributes': {'timeofday': time_of_day, 'weather': 'foggy'},
                       'labels': [{'category': b.label, 'box2d': {'x1': b.x0, 'y1': b.y0, 'x2': b.x1, 'y2': b.y1}}
                                  for b in datasets.read_voc_boxes(xml)]})
    (root / 'labels/det_20').mkdir(parents=True)
    (root / 'labels/det_20/det_val.json').write_text(json.dumps(frames))
    return datasets.open_dataset(root)


def test_bdd100k_detection_scored_per_time_of_day(shared_data, tmp_path):
    """A group's mAP@50 equals a separate run on the group's frames alone."""
    xml_files = dawn_voc_files(shared_data)[:6]
    timeofday = ['daytime', 'night', 'daytime', 'night', 'daytime', 'daytime']
    dataset = write_bdd_detection(shared_data, tmp_path / 'all', xml_files, timeofday)
    night_only = write_bdd_detection(shared_data, tmp_path / 'night',
                                     [x for x, t in zip(xml_files, timeofday) if t == 'night'], ['night', 'night'])

    def evaluate(data, out):
        return evaluate_offline(data, plan_from_profile('detection', tmp_path / out, 'cpu', {}, ['classical'], [],
                                                        cache_dir=tmp_path / 'cache', progress=False))

    scores = evaluate(dataset, 'out_all')['results']['onnx-yolox_nano_coco']
    alone = evaluate(night_only, 'out_night')['results']['onnx-yolox_nano_coco']

    assert set(scores['groups']) == {'timeofday=daytime', 'timeofday=night', 'weather=foggy'}
    for column in ('base', 'classical-ttm'):
        assert scores['groups']['weather=foggy'][column]['map50'] == scores[column]['map50']
        assert scores['groups']['timeofday=night'][column]['map50'] == alone[column]['map50']
    assert scores['groups']['timeofday=night']['base']['map50'] != scores['base']['map50']
    night = f"timeofday=night: base mAP@50 {scores['groups']['timeofday=night']['base']['map50']:.4f}"
    assert f'- onnx-yolox_nano_coco, {night}' in (tmp_path / 'out_all/report.md').read_text()
    assert f'<li>onnx-yolox_nano_coco, {night}' in (tmp_path / 'out_all/report.html').read_text()
    assert set(json.loads((tmp_path / 'out_all/metrics.json').read_text())['definitions']) == {'map50', 'columns'}


def test_voc_and_coco_layouts_agree(shared_data):
    voc = datasets.read_voc(shared_data / 'fog-boxes-dawn')
    coco = datasets.read_coco(shared_data / 'fog-boxes-dawn')
    assert len(voc.samples) == len(coco.samples) == 20
    assert sum(len(s.boxes) for s in voc.samples) == 187
    for a, b in zip(voc.samples, coco.samples):
        assert a.frame_id == b.frame_id
        assert sorted((x.label, x.x0, x.y0) for x in a.boxes) == sorted((x.label, x.x0, x.y0) for x in b.boxes)


def test_imagenet_r_classes_table():
    table = datasets.imagenet_r_classes()
    assert len(table) == 200
    indices = [table[wnid] for wnid in sorted(table)]
    assert indices == sorted(indices)
    assert table['n01443537'] == 1  # goldfish
    assert table['n12267677'] == 988  # acorn


def test_unknown_layout_lists_what_was_looked_for(tmp_path):
    with pytest.raises(datasets.ConfigurationError, match='leftImg8bit/ \\+ gtFine/'):
        datasets.open_dataset(tmp_path)


# ---------------------------------------------------------------------------------
# Offline runs on the real frames


def test_folder_report_matches_masks(shared_data, tmp_path):
    root = shared_data / MOOSS
    dataset = datasets.read_image_folder(root / 'images', root / 'labels')
    document = evaluate_offline(dataset, plan(tmp_path))
    out = tmp_path / 'out'

    for name in ('metrics.json', 'report.md', 'report.html'):
        assert (out / name).is_file()
    assert '<svg' in (out / 'report.html').read_text()
    results = document['results']['onnx']
    assert set(results) == {'base', 'classical-ttm', 'classical-fused'}
    for column, scores in results.items():
        pairs = [(read_mask(out / 'masks/onnx' / column / f'{s.frame_id}.png'), s.load_label())
                 for s in dataset.samples]
        miou, accuracy, iou = independent_scores(pairs)
        assert scores['miou'] == pytest.approx(miou, abs=1e-12)
        assert scores['pixel_accuracy'] == pytest.approx(accuracy, abs=1e-12)
        assert scores['iou']['road'] == pytest.approx(iou[0], abs=1e-12)
    assert document['definitions']['miou'].startswith('mean over the classes present')
    assert document['versions']['numpy'] == np.__version__


def test_resume_gives_same_metrics(shared_data, tmp_path):
    root = shared_data / MOOSS
    dataset = datasets.read_image_folder(root / 'images', root / 'labels')
    full = evaluate_offline(dataset, plan(tmp_path, 'full'))
    with pytest.raises(KeyboardInterrupt):
        evaluate_offline(dataset, plan(tmp_path, 'resumed'), interrupt_after=1)
    assert len(list((tmp_path / 'resumed/frames').glob('*.json'))) == 1
    resumed = evaluate_offline(dataset, plan(tmp_path, 'resumed'))
    assert comparable(resumed) == comparable(full)


def test_translation_cache_reused_across_segmenters(shared_data, tmp_path):
    root = shared_data / MOOSS
    dataset = datasets.read_image_folder(root / 'images', root / 'labels')
    dataset.samples = dataset.samples[:1]
    evaluate_offline(dataset, plan(tmp_path, 'first'))
    cached = list((tmp_path / 'cache').rglob('*.png'))
    assert len(cached) == 1
    evaluate_offline(dataset, plan(tmp_path, 'second', models=['onnx:deeplab_edgetpu_cityscapes']))
    record = json.loads(next((tmp_path / 'second/frames').glob('*.json')).read_text())
    assert record['translation_cached'] == {'classical': True}
    assert 'translate_cache_read' in record['timings_ms']['onnx-deeplab_edgetpu_cityscapes/classical']


def test_inputs_hash_covers_labels(shared_data, tmp_path):
    """Editing one label pixel changes the inputs hash; the frame hashes stay."""
    folder = tmp_path / 'set'
    shutil.copytree(shared_data / 'cityscapes-mmseg-tiny', folder)
    first = evaluate_offline(datasets.read_image_folder(folder, folder), plan(tmp_path, 'first'))
    label_path = folder / 'frankfurt_000000_000294_gtFine_labelTrainIds.png'
    label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
    label[0, 0] = 0 if label[0, 0] == 255 else 255
    cv2.imwrite(str(label_path), label)
    second = evaluate_offline(datasets.read_image_folder(folder, folder), plan(tmp_path, 'second'))

    assert second['inputs_sha256'] != first['inputs_sha256']
    record = json.loads((tmp_path / 'second/frames/frankfurt_000000_000294.json').read_text())
    assert record['frame_sha256'] == json.loads(
        (tmp_path / 'first/frames/frankfurt_000000_000294.json').read_text())['frame_sha256']


def test_two_translators_side_by_side(shared_data, tmp_path):
    tiny = shared_data / 'cityscapes-mmseg-tiny'
    dataset = datasets.read_image_folder(tiny, tiny)
    document = evaluate_offline(dataset, plan(tmp_path, translators=['identity', 'classical']))
    columns = set(document['results']['onnx'])
    assert columns == {'base', 'identity-ttm', 'identity-fused', 'classical-ttm', 'classical-fused'}
    assert document['results']['onnx']['identity-ttm'] == document['results']['onnx']['base']


# ---------------------------------------------------------------------------------
# Bags


@pytest.mark.parametrize('compressed, storage', [(False, 'mcap'), (True, 'sqlite3')])
def test_recorded_bag_keeps_frames_and_stamps(shared_data, tmp_path, compressed, storage):
    images = sorted((shared_data / MOOSS / 'images').glob('*.png'))
    stamps = bags.write_camera_bag(images, tmp_path / 'bag', compressed=compressed, storage=storage, rate_hz=5)
    assert stamps == [1_700_000_000 * 10**9 + i * 200_000_000 for i in range(3)]
    frames = list(bags.iterate_frames(tmp_path / 'bag'))
    assert [f.stamp_ns for f, _ in frames] == stamps
    for (frame, rgb), path in zip(frames, images):
        assert np.array_equal(rgb, datasets.read_rgb(path))  # PNG frames stay lossless


def test_bag_boxes_from_bdd100k_json(shared_data, tmp_path):
    """BDD100K names map to COCO names and attributes reach the frames; file names must match."""
    images = sorted((shared_data / 'fog-boxes-dawn/images').glob('*.jpg'))[:2]
    bags.write_camera_bag(images, tmp_path / 'bag')
    box = {'x1': 10.0, 'y1': 20.0, 'x2': 50.0, 'y2': 90.0}
    frames = [{'name': '000000.jpg', 'attributes': {'timeofday': 'night'},
               'labels': [{'category': 'pedestrian', 'box2d': box}, {'category': 'motor', 'box2d': box},
                          {'category': 'lane', 'poly2d': []}]},
              {'name': '000001.jpg', 'attributes': {'timeofday': 'daytime'},
               'labels': [{'category': 'car', 'box2d': box}]}]
    (tmp_path / 'bdd.json').write_text(json.dumps(frames))
    dataset = bags.read_bag(tmp_path / 'bag', '', tmp_path / 'bdd.json')
    assert [[b.label for b in s.boxes] for s in dataset.samples] == [['person', 'motorcycle'], ['car']]
    assert [s.attributes['timeofday'] for s in dataset.samples] == ['night', 'daytime']

    # COCO files keyed by the original file names match no bag frame: an error, not mAP 0.
    with pytest.raises(ConfigurationError, match='matches a frame'):
        bags.read_bag(tmp_path / 'bag', '', shared_data / 'fog-boxes-dawn/annotations_coco.json')
    (tmp_path / 'broken.json').write_text('{')
    with pytest.raises(ConfigurationError, match='not valid JSON'):
        bags.read_bag(tmp_path / 'bag', '', tmp_path / 'broken.json')
    with pytest.raises(ConfigurationError, match='cannot read'):
        bags.read_bag(tmp_path / 'bag', '', tmp_path / 'missing.json')


def test_bag_eval_equals_folder_eval(shared_data, tmp_path):
    root = shared_data / MOOSS
    images = sorted((root / 'images').glob('*.png'))
    bags.write_camera_bag(images, tmp_path / 'bag')
    for index, path in enumerate(images):
        copy(root / 'labels' / (datasets.labels.frame_id(path) + '_gtFine_labelTrainIds.png'),
             tmp_path / f'labels/{index:06d}_gtFine_labelTrainIds.png')
    from_bag = evaluate_offline(bags.read_bag(tmp_path / 'bag', '', tmp_path / 'labels'), plan(tmp_path, 'bag_out'))
    from_folder = evaluate_offline(datasets.read_image_folder(root / 'images', root / 'labels'),
                                   plan(tmp_path, 'folder_out'))
    assert from_bag['results'] == from_folder['results']


def test_record_outputs_bag(shared_data, tmp_path):
    from ttm_ros.eval.outputs import write_output_bag
    tiny = shared_data / 'cityscapes-mmseg-tiny'
    dataset = datasets.read_image_folder(tiny, tiny)
    eval_plan = plan(tmp_path)
    document = evaluate_offline(dataset, eval_plan)
    write_output_bag(tmp_path / 'outputs', dataset, eval_plan, document['dataset']['frame_ids'])
    from rosbags.rosbag2 import Reader
    with Reader(tmp_path / 'outputs') as reader:
        topics = {c.topic for c in reader.connections}
        assert '/eval/onnx/classical-fused/mask' in topics
        assert reader.message_count == 1 + 3 * 2


def test_record_detections_bag(shared_data, tmp_path):
    """Recorded boxes deserialize as the real vision_msgs type and keep the saved corners."""
    pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not built; run tools/build-vision-msgs.sh')
    from rclpy.serialization import deserialize_message
    from rosbags.rosbag2 import Reader
    from vision_msgs.msg import Detection2DArray
    from ttm_ros.eval.outputs import write_output_bag
    from ttm_ros.ros.detection_msgs import detections_from_msg

    source = shared_data / 'fog-boxes-dawn'
    dataset = datasets.open_dataset(source, 'coco')
    dataset = dataclasses.replace(dataset, samples=dataset.samples[:2])
    eval_plan = plan_from_profile('detection', tmp_path / 'out', 'cpu', {}, ['classical'], [],
                                  cache_dir=tmp_path / 'cache', progress=False)
    document = evaluate_offline(dataset, eval_plan)
    frames = document['dataset']['frame_ids']
    write_output_bag(tmp_path / 'outputs', dataset, eval_plan, frames)

    with Reader(tmp_path / 'outputs') as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        messages = [(c.topic, raw) for c, _, raw in reader.messages()]
    assert topics['/eval/onnx-yolox_nano_coco/classical-ttm/detections'] == 'vision_msgs/msg/Detection2DArray'
    recorded = [(topic.split('/')[3], deserialize_message(raw, Detection2DArray))
                for topic, raw in messages if topic.endswith('/detections')]
    assert len(recorded) == 2 * len(frames)
    for frame in frames:
        saved = json.loads((tmp_path / f'out/predictions/onnx-yolox_nano_coco/{frame}.json').read_text())
        for column in ('base', 'classical-ttm'):
            message = next(m for c, m in recorded if c == column and m.header.stamp.nanosec ==
                           frames.index(frame) * 100_000_000)
            boxes = detections_from_msg(message)
            assert [b.label for b in boxes] == [d['label'] for d in saved[column]]
            assert np.allclose([b.box for b in boxes], [d['box'] for d in saved[column]], atol=1e-9)
            assert [b.score for b in boxes] == [d['score'] for d in saved[column]]


def test_record_detections_without_vision_msgs_rejected(tmp_path, monkeypatch):
    from ttm_ros.eval import outputs
    monkeypatch.setattr(outputs.sys, 'prefix', str(tmp_path))
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path / 'ros'))
    with pytest.raises(ConfigurationError, match='build-vision-msgs.sh'):
        outputs.vision_msgs_definitions()


# ---------------------------------------------------------------------------------
# Classification and detection with the real ONNX models


def test_imagenet_r_top1_with_mobilenet(shared_data, tmp_path):
    from ttm_ros.core.classifiers import ClassifierSettings, build_classifier
    dawn = sorted((shared_data / 'fog-boxes-dawn/images').glob('*.jpg'))[:4]
    wnids = ['n04146614', 'n03930630', 'n03345487', 'n02701002']  # school bus, pickup, fire engine, ambulance
    for wnid, path in zip(wnids, dawn):
        copy(path, tmp_path / 'r' / wnid / path.name)
    dataset = datasets.open_dataset(tmp_path / 'r')
    assert dataset.layout == 'imagenet-r'
    eval_plan = plan_from_profile('classification', tmp_path / 'out', 'cpu', {}, ['classical'], [],
                                  cache_dir=tmp_path / 'cache', progress=False)
    document = evaluate_offline(dataset, eval_plan)

    classifier = build_classifier('onnx', ClassifierSettings(config='mobilenetv2_int8_imagenet'))
    subset = sorted(datasets.imagenet_r_classes().values())
    hits = [subset[int(np.argmax(classifier.predict_proba(s.load_image())[subset]))] == s.class_index
            for s in dataset.samples]
    scores = document['results']['onnx-mobilenetv2_int8_imagenet']
    assert set(scores) == {'base', 'classical-ttm'}
    assert scores['base']['top1_imagenet_r'] == sum(hits) / len(hits)


def test_plugin_detector_and_detector_overrides(shared_data, tmp_path, test_plugins):
    """A `module:Class` detector loads by name, and -p detector.* reach its settings."""
    dataset = datasets.open_dataset(shared_data / 'fog-boxes-dawn', 'coco')
    dataset = dataclasses.replace(dataset, samples=dataset.samples[:2])
    eval_plan = plan_from_profile('detection', tmp_path / 'out', 'cpu', {'detector.nms_iou': 0.9},
                                  ['identity'], ['failing_detector:FailOnNarrowFrames'],
                                  cache_dir=tmp_path / 'cache', progress=False)
    assert [(m.label, m.name) for m in eval_plan.models] == [('FailOnNarrowFrames', 'failing_detector:FailOnNarrowFrames')]
    assert eval_plan.models[0].settings.nms_iou == 0.9
    assert eval_plan.models[0].settings.score_threshold == 0.01  # the mAP default
    document = evaluate_offline(dataset, eval_plan)

    for sample in dataset.samples:
        height, width = sample.load_image().shape[:2]
        saved = json.loads((tmp_path / f'out/predictions/FailOnNarrowFrames/{sample.frame_id}.json').read_text())
        assert saved['base'] == [{'box': [width / 4, height / 4, 3 * width / 4, 3 * height / 4],
                                  'label': 'car', 'score': 0.9}]
    assert document['configuration']['models'][0]['settings']['nms_iou'] == 0.9
    from_name = plan_from_profile('detection', tmp_path / 'x', 'cpu',
                                  {'detector.name': 'failing_detector:FailOnNarrowFrames'}, [], [])
    assert from_name.models[0].name == 'failing_detector:FailOnNarrowFrames'
    with pytest.raises(ConfigurationError, match='not a detector setting'):
        plan_from_profile('detection', tmp_path / 'x', 'cpu', {'detector.nms': 0.5}, [], [])


def test_dawn_detection_base_and_classical(shared_data, tmp_path):
    dataset = datasets.open_dataset(shared_data / 'fog-boxes-dawn', 'coco')
    eval_plan = plan_from_profile('detection', tmp_path / 'out', 'cpu', {}, ['classical'], [],
                                  cache_dir=tmp_path / 'cache', progress=False)
    document = evaluate_offline(dataset, eval_plan)
    scores = document['results']['onnx-yolox_nano_coco']
    assert 0.3 < scores['base']['map50'] < 0.5
    assert scores['classical-ttm']['map50'] is not None
    assert set(scores['base']['ap50_per_class']) == {'person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck'}
