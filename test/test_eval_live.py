"""`ttm-ros eval --live` against the offline path on bags of the real frames.

The nodes replay the bag with use_sim_time and /clock from the bag; both paths must
give identical metrics (segmentation and detection), an output for every frame and the
bag's header stamps.
"""

import json
import shutil
import subprocess
import sys

import pytest

from ros_harness import configure_ros_environment
from ttm_ros.eval import bags
from ttm_ros.core.labels import frame_id

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def run_eval(arguments, timeout=600):
    completed = subprocess.run([sys.executable, '-m', 'ttm_ros.cli', 'eval', '--no-progress', *arguments],
                               capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def test_live_equals_offline_on_bag(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv('TTM_ROS_DATA', str(shared_data))
    configure_ros_environment(tmp_path / 'logs')
    source = shared_data / 'acdc-mooss-1024x512'
    images = sorted((source / 'images').glob('*.png'))
    stamps = bags.write_camera_bag(images, tmp_path / 'bag')
    for index, path in enumerate(images):
        shutil.copy(source / 'labels' / f'{frame_id(path)}_gtFine_labelTrainIds.png',
                    tmp_path / f'{index:06d}_gtFine_labelTrainIds.png')
    common = ['--bag', str(tmp_path / 'bag'), '--labels', str(tmp_path), '--cache', str(tmp_path / 'cache')]

    run_eval([*common, '--out', str(tmp_path / 'offline')])
    run_eval([*common, '--out', str(tmp_path / 'live'), '--live'])
    offline = json.loads((tmp_path / 'offline/metrics.json').read_text())
    live = json.loads((tmp_path / 'live/metrics.json').read_text())

    assert live['run']['path'] == 'live'
    assert live['results'] == offline['results']
    assert live['inputs_sha256'] == offline['inputs_sha256']
    assert live['dataset']['frame_ids'] == ['000000', '000001', '000002']
    for index, frame in enumerate(live['dataset']['frame_ids']):
        record = json.loads((tmp_path / 'live/frames' / f'{frame}.json').read_text())
        assert record['stamp_ns'] == stamps[index]
        assert record['problems'] == []
        assert set(record['timings_ms']['onnx/classical']) >= {'translate', 'segment_original', 'fuse'}
        for column in ('base', 'classical-ttm', 'classical-fused'):
            assert (tmp_path / 'live/masks/onnx' / column / f'{frame}.png').is_file()


def test_live_detection_equals_offline_on_bag(shared_data, tmp_path, monkeypatch):
    """Boxes of the detection node behind the TTM node score what the offline path scores."""
    monkeypatch.setenv('TTM_ROS_DATA', str(shared_data))
    configure_ros_environment(tmp_path / 'logs')
    source = shared_data / 'fog-boxes-dawn'
    images = sorted((source / 'images').glob('*.jpg'))[:3]
    bags.write_camera_bag(images, tmp_path / 'bag')
    # The COCO file renamed to the bag's frame names (message index).
    coco = json.loads((source / 'annotations_coco.json').read_text())
    names = {path.name: f'{index:06d}.jpg' for index, path in enumerate(images)}
    bag_images = [image for image in coco['images'] if image['file_name'] in names]
    bag_ids = {image['id'] for image in bag_images}
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] in bag_ids]
    coco['images'] = [{**image, 'file_name': names[image['file_name']]} for image in bag_images]
    (tmp_path / 'boxes.json').write_text(json.dumps(coco))
    common = ['--bag', str(tmp_path / 'bag'), '--annotations', str(tmp_path / 'boxes.json'),
              '--cache', str(tmp_path / 'cache')]

    run_eval([*common, '--out', str(tmp_path / 'offline')])
    run_eval([*common, '--out', str(tmp_path / 'live'), '--live'])
    offline = json.loads((tmp_path / 'offline/metrics.json').read_text())
    live = json.loads((tmp_path / 'live/metrics.json').read_text())

    assert live['run']['path'] == 'live'
    assert live['task'] == 'detection'
    assert live['results'] == offline['results']
    scores = live['results']['onnx-yolox_nano_coco']
    assert set(scores) == {'base', 'classical-ttm'}
    assert scores['base']['map50'] > 0
    for frame in live['dataset']['frame_ids']:
        predicted = json.loads((tmp_path / 'live/predictions/onnx-yolox_nano_coco' / f'{frame}.json').read_text())
        expected = json.loads((tmp_path / 'offline/predictions/onnx-yolox_nano_coco' / f'{frame}.json').read_text())
        assert set(predicted) == {'base', 'classical-ttm'}
        assert [box['label'] for box in predicted['base']] == [box['label'] for box in expected['base']]
        record = json.loads((tmp_path / 'live/frames' / f'{frame}.json').read_text())
        assert {'translate', 'detection_detect'} <= set(record['timings_ms']['onnx-yolox_nano_coco/classical'])
