"""The vision_msgs interfaces built into the venv, and the Detection2DArray conversion."""

import pathlib

import pytest

pytest.importorskip('rclpy')
vision_msgs = pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not built; run tools/build-vision-msgs.sh')

from std_msgs.msg import Header  # noqa: E402

from ttm_ros.core.detectors.base import Detection  # noqa: E402
from ttm_ros.ros.detection_msgs import detections_from_msg, detections_to_msg, label_info_msg  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
MSG_DIR = REPO_ROOT / 'tools' / 'vision_msgs' / 'msg'
# Type hashes of the distro vision_msgs 4.x package (from its generated C sources).
DISTRO_HASHES = {
    'Detection2DArray': 'RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968',
    'LabelInfo': 'RIHS01_3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783',
    'VisionClass': 'RIHS01_1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a',
}


def _installed_hash(name: str) -> str:
    import json
    import sys
    path = pathlib.Path(sys.prefix) / 'share' / 'vision_msgs' / 'msg' / f'{name}.json'
    if not path.is_file():
        pytest.skip(f'{path} not found: vision_msgs comes from a ROS install, not this venv')
    return json.loads(path.read_text())['type_hashes'][0]['hash_string']


@pytest.mark.parametrize('name', sorted(p.stem for p in MSG_DIR.glob('*.msg')))
def test_type_hash_matches_definition(name):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in MSG_DIR.glob('*.msg'):
        types.update(get_types_from_msg(path.read_text(), f'vision_msgs/msg/{path.stem}'))
    store.register(types)
    expected = store.hash_rihs01(f'vision_msgs/msg/{name}')
    assert _installed_hash(name) == expected
    if name in DISTRO_HASHES:
        assert expected == DISTRO_HASHES[name]


def test_detection_array_round_trip():
    header = Header(frame_id='cam_left')
    header.stamp.sec, header.stamp.nanosec = 12, 345
    detections = [Detection((10.0, 20.0, 50.0, 80.0), 0.75, 'car'),
                  Detection((0.0, 0.5, 3.0, 2.5), 0.5, 'person')]
    message = detections_to_msg(detections, header)
    first = message.detections[0]
    assert message.header == header and first.header == header
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (30.0, 50.0)
    assert (first.bbox.size_x, first.bbox.size_y, first.bbox.center.theta) == (40.0, 60.0, 0.0)
    assert first.results[0].hypothesis.class_id == 'car'
    assert first.results[0].hypothesis.score == 0.75
    assert detections_from_msg(message) == detections


def test_label_info_numbers_classes():
    message = label_info_msg(['car', 'bus'], 0.3)
    assert [(c.class_id, c.class_name) for c in message.class_map] == [(0, 'car'), (1, 'bus')]
    assert message.threshold == pytest.approx(0.3)
