"""The `detection` launch argument adds detection_node to the launch file's node list."""

import pytest

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.core.parameters import DETECTION_NODE_PARAMETERS, checked_values
from ttm_ros.launch_description import node_specs
from ttm_ros.runner import node_class


def test_detection_off_by_default():
    assert [spec.executable for spec in node_specs({})] == ['ttm_node']


def test_detection_true_adds_node_with_profile_and_original():
    specs = node_specs({'detection': 'true', 'camera_topic': '/cam/image_raw', 'namespace': 'car',
                        'profile': 'gpu'})
    ttm, detection = specs
    assert (detection.executable, detection.name, detection.namespace) == ('detection_node', 'detection_node', 'car')
    assert detection.parameter_files == ttm.parameter_files
    assert detection.parameter_files[0].endswith('gpu.yaml')
    assert detection.parameters['original.topic'] == '/cam/image_raw'
    assert 'input.topic' not in detection.parameters  # keeps the pseudo-source default
    assert node_class(detection).__name__ == 'DetectionNode'


def test_detection_compressed_has_no_original():
    specs = node_specs({'detection': 'true', 'transport': 'compressed'})
    assert 'original.topic' not in specs[1].parameters


def test_detection_argument_must_be_bool():
    with pytest.raises(ConfigurationError, match='detection'):
        node_specs({'detection': 'maybe'})


def test_detection_parameters_defaults_and_limits():
    values = checked_values({}, DETECTION_NODE_PARAMETERS)
    assert values['input.topic'] == 'pseudo_source/image_raw'
    assert values['fusion.mode'] == 'none'
    with pytest.raises(ConfigurationError, match='fusion.mode'):
        checked_values({'fusion.mode': 'average'}, DETECTION_NODE_PARAMETERS)
    with pytest.raises(ConfigurationError, match='detector.score_threshold'):
        checked_values({'detector.score_threshold': 1.5}, DETECTION_NODE_PARAMETERS)
