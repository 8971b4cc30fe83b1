"""The node list shared by launch/ttm.launch.py and `ttm-ros run`.

`launch` and `launch_ros` are not installable here, so the launch file runs against
small recording stand-ins of the five launch classes it uses; that checks its wiring
(every argument declared, every node built from `node_specs`), not launch itself.
"""

import importlib.util
import sys
import types

import pytest

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.launch_description import (LAUNCH_ARGUMENTS, fit_detection_input, dds_environment,
                                        node_specs, parameters_for, resolve_arguments)
from ttm_ros.paths import SOURCE_ROOT


def test_default_specs_start_one_ttm_node():
    specs = node_specs()
    assert [spec.executable for spec in specs] == ['ttm_node']
    assert specs[0].name == 'ttm_node'
    assert specs[0].parameter_files == [str(SOURCE_ROOT / 'config' / 'cpu.yaml')]
    assert specs[0].parameters == {'input.topic': '/camera/image_raw', 'input.transport': 'raw',
                                   'use_sim_time': False}


def test_arguments_reach_node_spec():
    spec = node_specs({'camera_topic': '/front/image', 'profile': 'gpu', 'namespace': 'car',
                       'use_sim_time': 'true', 'transport': 'compressed'})[0]
    assert spec.namespace == 'car'
    assert spec.parameter_files == [str(SOURCE_ROOT / 'config' / 'gpu.yaml')]
    assert spec.parameters['input.topic'] == '/front/image'
    assert spec.parameters['use_sim_time'] is True
    assert spec.parameters['input.transport'] == 'compressed'


def test_params_file_follows_profile(tmp_path):
    extra = tmp_path / 'site.yaml'
    extra.write_text('/**:\n  ros__parameters:\n    fusion:\n      weight: 0.7\n')
    spec = node_specs({'params_file': str(extra)})[0]
    assert spec.parameter_files[-1] == str(extra)


def test_ros_arguments_quote_strings():
    spec = node_specs({'namespace': 'car'})[0]
    spec.parameters['segmenter.config'] = ''
    spec.parameters['translator.prompt'] = 'clear day: dry road'
    arguments = spec.ros_arguments()
    assert arguments[:3] == ['--ros-args', '-r', '__node:=ttm_node']
    assert '__ns:=/car' in arguments
    assert "segmenter.config:=''" in arguments
    assert "translator.prompt:='clear day: dry road'" in arguments
    assert 'use_sim_time:=false' in arguments


@pytest.mark.parametrize('arguments, fragment', [
    ({'camera': '/x'}, 'unknown launch argument'),
    ({'transport': 'h264'}, 'transport'),
    ({'use_sim_time': 'maybe'}, 'use_sim_time'),
    ({'profile': 'no_such_profile'}, 'no_such_profile'),
])
def test_invalid_arguments_rejected(arguments, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        node_specs(arguments)


def test_dds_profile_respects_user_choice():
    assert dds_environment('large_images', {'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'}) == {}
    assert dds_environment('none', {}) == {}
    chosen = dds_environment('large_images', {})['FASTDDS_DEFAULT_PROFILES_FILE']
    assert chosen.endswith('config/fastdds/large_images.xml')


def _stand_in_launch_modules(created):
    """Return stand-in `launch`/`launch_ros` modules that record what the file builds."""

    class Recorded:
        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs
            created.append(self)

    class LaunchConfiguration(Recorded):
        def perform(self, context):
            return context[self.args[0]]

    launch = types.ModuleType('launch')
    launch.LaunchDescription = type('LaunchDescription', (Recorded,), {})
    launch.actions = types.ModuleType('launch.actions')
    for name in ('DeclareLaunchArgument', 'OpaqueFunction', 'SetEnvironmentVariable'):
        setattr(launch.actions, name, type(name, (Recorded,), {}))
    launch.substitutions = types.ModuleType('launch.substitutions')
    launch.substitutions.LaunchConfiguration = LaunchConfiguration
    launch_ros = types.ModuleType('launch_ros')
    launch_ros.actions = types.ModuleType('launch_ros.actions')
    launch_ros.actions.Node = type('Node', (Recorded,), {})
    return {'launch': launch, 'launch.actions': launch.actions,
            'launch.substitutions': launch.substitutions, 'launch_ros': launch_ros,
            'launch_ros.actions': launch_ros.actions}


def test_launch_file_builds_nodes_from_specs(monkeypatch):
    created = []
    for name, module in _stand_in_launch_modules(created).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delenv('FASTDDS_DEFAULT_PROFILES_FILE', raising=False)
    spec = importlib.util.spec_from_file_location('ttm_launch', SOURCE_ROOT / 'launch' / 'ttm.launch.py')
    launch_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch_file)

    description = launch_file.generate_launch_description()
    declared = [a.args[0] for a in description.args[0] if type(a).__name__ == 'DeclareLaunchArgument']
    assert declared == [argument.name for argument in LAUNCH_ARGUMENTS]

    values = {**resolve_arguments(), 'namespace': 'car', 'use_sim_time': 'true'}
    opaque = description.args[0][-1]
    actions = opaque.kwargs['function'](values)
    nodes = [a for a in actions if type(a).__name__ == 'Node']
    expected = node_specs({k: v for k, v in values.items() if k != 'dds_profile'})
    assert [n.kwargs['executable'] for n in nodes] == [s.executable for s in expected]
    assert nodes[0].kwargs['namespace'] == 'car'
    assert nodes[0].kwargs['parameters'] == [*expected[0].parameter_files, expected[0].parameters]
    environment = [a.args for a in actions if type(a).__name__ == 'SetEnvironmentVariable']
    assert environment[0][0] == 'FASTDDS_DEFAULT_PROFILES_FILE'


def test_managed_argument_starts_lifecycle_node():
    from ttm_ros.runner import EXECUTABLES, node_class
    spec = node_specs({'managed': 'true'})[0]
    assert spec.executable == 'ttm_lifecycle_node'
    assert spec.name == 'ttm_node'
    assert node_class(spec).__name__ == 'ManagedTTMNode'
    assert set(EXECUTABLES) >= {'ttm_node', 'ttm_lifecycle_node', 'detection_node'}


def test_overrides_reach_the_right_node():
    overrides = {'input.topic': '/cam2/image_raw', 'input.qos.reliability': 'reliable',
                 'detector.score_threshold': 0.5, 'detection_node.output.overlay': False,
                 'ttm_node.output.overlay': True}
    assert parameters_for('ttm_node', overrides) == {
        'input.topic': '/cam2/image_raw', 'input.qos.reliability': 'reliable',
        'detector.score_threshold': 0.5, 'output.overlay': True}
    # The camera input belongs to the TTM node; the detection node follows its output.
    assert parameters_for('detection_node', overrides) == {
        'input.qos.reliability': 'reliable', 'detector.score_threshold': 0.5, 'output.overlay': False}


def test_detection_original_stream_follows_camera_override():
    specs = node_specs({'detection': 'true', 'camera_topic': '/camera/image_raw'})
    specs[0].parameters.update(parameters_for('ttm_node', {'input.topic': '/cam2/image_raw'}))
    fit_detection_input(specs, {})
    assert specs[1].parameters['original.topic'] == '/cam2/image_raw'
    specs[1].parameters.update(parameters_for('detection_node', {'detection_node.original.topic': '/other'}))
    fit_detection_input(specs, {'original.topic': '/other'})
    assert specs[1].parameters['original.topic'] == '/other'  # given by the user: kept


def test_detection_with_named_cameras_needs_its_camera():
    specs = node_specs({'detection': 'true'})
    specs[0].parameters['input.cameras'] = ['front=/front/image_raw', 'rear=/rear/image_raw']
    specs[1].parameters['original.topic'] = '/camera/image_raw'
    with pytest.raises(ConfigurationError, match='detection_node.input.topic=front/pseudo_source/image_raw'):
        fit_detection_input(specs, {})
    fit_detection_input(specs, {'input.topic': 'front/pseudo_source/image_raw'})
    assert specs[1].parameters['original.topic'] == ''  # the launch default belongs to no camera


def test_node_qualified_overrides_checked_against_that_node():
    from ttm_ros.core.parameters import checked_overrides
    assert checked_overrides({'detection_node.input.topic': 'front/pseudo_source/image_raw'}) == {
        'detection_node.input.topic': 'front/pseudo_source/image_raw'}
    with pytest.raises(ConfigurationError, match="unknown parameter 'detection_node.translator.name'"):
        checked_overrides({'detection_node.translator.name': 'classical'})
