"""The node list of `launch/ttm.launch.py` and `ttm-ros run`, built in one place.

`launch` and `launch_ros` are not needed to import this module. The launch file turns
each `NodeSpec` into a `launch_ros.actions.Node`, and the in-process runner turns the
same spec into `--ros-args` for an rclpy node. Both therefore start the same nodes with
the same parameters, and the tests cover the list without a launch install.

Parameter precedence, lowest first: the node's declared defaults, the profile YAML
(`config/<profile>.yaml`), the extra `params_file`, then the launch arguments
(`camera_topic`, `use_sim_time`, `transport`). With `detection:=true` the
detection node starts too, with the same files.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.paths import PACKAGE, resolve_config, share_dir


@dataclasses.dataclass(frozen=True)
class LaunchArgument:
    """A launch argument of ttm.launch.py (and the matching `ttm-ros run` option)."""

    name: str
    default: str
    description: str


LAUNCH_ARGUMENTS: Tuple[LaunchArgument, ...] = (
    LaunchArgument('camera_topic', '/camera/image_raw',
                   'Camera topic (sensor_msgs/Image; with transport:=compressed the node '
                   'subscribes to <camera_topic>/compressed).'),
    LaunchArgument('transport', 'raw', 'raw or compressed.'),
    LaunchArgument('profile', 'cpu', 'Parameter profile: a name in the package config/ '
                   'folder (cpu, gpu) or a path to a YAML parameter file.'),
    LaunchArgument('params_file', '', 'Optional YAML parameter file applied after the profile.'),
    LaunchArgument('namespace', '', 'Namespace of the nodes and their topics.'),
    LaunchArgument('use_sim_time', 'false', 'Use the /clock topic as time (true for bag replays).'),
    LaunchArgument('managed', 'false', 'Start ttm_node as a lifecycle node: it loads its models '
                   'on configure, frees them on cleanup, and waits unconfigured for '
                   '`ros2 lifecycle set` (or a lifecycle manager).'),
    LaunchArgument('detection', 'false', 'Also start detection_node on the pseudo-source image, '
                   'with the camera topic as its original stream.'),
    LaunchArgument('dds_profile', 'large_images', 'Fast DDS profile set as '
                   'FASTDDS_DEFAULT_PROFILES_FILE when that variable is unset: a name in '
                   'config/fastdds (large_images, large_images_localhost), a path, or none.'),
)


@dataclasses.dataclass
class NodeSpec:
    """One node to start: executable, name, namespace, parameters and remappings."""

    executable: str
    name: str
    namespace: str = ''
    parameter_files: List[str] = dataclasses.field(default_factory=list)
    parameters: Dict[str, Any] = dataclasses.field(default_factory=dict)
    remappings: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
    package: str = PACKAGE

    def ros_arguments(self) -> List[str]:
        """Return the `--ros-args` list that starts this node with its settings."""
        arguments = ['--ros-args', '-r', f'__node:={self.name}']
        if self.namespace:
            arguments += ['-r', f'__ns:={_absolute(self.namespace)}']
        for path in self.parameter_files:
            arguments += ['--params-file', path]
        for name, value in self.parameters.items():
            arguments += ['-p', f'{name}:={yaml_scalar(value)}']
        for source, target in self.remappings:
            arguments += ['-r', f'{source}:={target}']
        return arguments


def parse_bool(text: str, name: str) -> bool:
    """Return the boolean of a launch argument written as true/false (any case)."""
    lowered = str(text).strip().lower()
    if lowered in ('true', '1', 'yes'):
        return True
    if lowered in ('false', '0', 'no', ''):
        return False
    raise ConfigurationError(f'launch argument {name}={text!r} is invalid; use true or false')


def node_specs(arguments: Optional[Mapping[str, str]] = None) -> List[NodeSpec]:
    """Return the nodes to start for the given launch argument values (strings).

    Missing arguments take the defaults in LAUNCH_ARGUMENTS; unknown ones raise
    ConfigurationError.
    """
    values = resolve_arguments(arguments)
    values.pop('dds_profile')  # An environment setting, applied by the caller.
    if values['transport'] not in ('raw', 'compressed'):
        raise ConfigurationError(
            f"launch argument transport={values['transport']!r} is invalid; use raw or compressed")
    files = [str(resolve_config(values['profile']))]
    if values['params_file']:
        files.append(str(resolve_config(values['params_file'])))
    parameters = {
        'input.topic': values['camera_topic'],
        'input.transport': values['transport'],
        'use_sim_time': parse_bool(values['use_sim_time'], 'use_sim_time'),
    }
    executable = 'ttm_lifecycle_node' if parse_bool(values['managed'], 'managed') else 'ttm_node'
    specs = [NodeSpec(executable=executable, name='ttm_node', namespace=values['namespace'],
                      parameter_files=files, parameters=dict(parameters))]
    if parse_bool(values['detection'], 'detection'):
        # The detection node reads the pseudo-source image in the same namespace; the
        # camera stream is its original stream (for fusion and the composite view).
        specs.append(NodeSpec(executable='detection_node', name='detection_node',
                              namespace=values['namespace'], parameter_files=list(files),
                              parameters={'use_sim_time': parameters['use_sim_time']}))
        # NOTE: the original stream is subscribed as raw Image only, so with
        # transport:=compressed the detection node runs without it.
        if values['transport'] == 'raw':
            specs[-1].parameters['original.topic'] = values['camera_topic']
    return specs


#: Names of the nodes the launch description starts (prefixes of node-qualified `-p`).
NODE_NAMES = ('ttm_node', 'detection_node')
#: Parameters of the camera input. An unqualified `-p` value of one of them goes to the
#: TTM node only, because the detection node reads the TTM node's pseudo-source image.
CAMERA_PARAMETERS = ('input.topic', 'input.cameras', 'input.transport')


def parameters_for(node_name: str, overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the `-p` overrides that apply to the node named `node_name`.

    `<node name>.NAME` goes to that node only, without the prefix. A plain NAME goes to
    every node, except the camera-input names, which go to the TTM node only.
    """
    selected: Dict[str, Any] = {}
    for name, value in overrides.items():
        node, _, own_name = name.partition('.')
        if node in NODE_NAMES:
            if node == node_name:
                selected[own_name] = value
        elif node_name == 'ttm_node' or name not in CAMERA_PARAMETERS:
            selected[name] = value
    return selected


def fit_detection_input(specs: List[NodeSpec], detection_overrides: Mapping[str, Any]) -> None:
    """Point the detection node's original stream at the TTM node's camera, or raise.

    The original stream follows the TTM node's `input.topic` (also when `-p` changed
    it) unless `detection_node.original.topic` is given. With named cameras
    (`input.cameras`) the TTM node publishes under `<camera>/`, so the detection node
    (one camera) needs `detection_node.input.topic`, else ConfigurationError names the
    fix, and its original stream is dropped unless given.
    """
    ttm = next(spec for spec in specs if spec.name == 'ttm_node')
    detection = next((spec for spec in specs if spec.name == 'detection_node'), None)
    if detection is None:
        return
    cameras = [str(entry) for entry in ttm.parameters.get('input.cameras') or []]
    if not cameras:
        if detection.parameters.get('original.topic') and 'original.topic' not in detection_overrides:
            detection.parameters['original.topic'] = ttm.parameters['input.topic']
        return
    if 'input.topic' not in detection_overrides:
        name, _, topic = cameras[0].partition('=')
        raise ConfigurationError(
            f'with input.cameras the detection node needs the camera to follow: add '
            f'-p detection_node.input.topic={name}/pseudo_source/image_raw and, for fusion and the '
            f'composite view, -p detection_node.original.topic={topic} (it serves one camera)')
    if 'original.topic' not in detection_overrides:
        detection.parameters['original.topic'] = ''


def resolve_arguments(arguments: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Return every launch argument's value: the given ones over the defaults."""
    values = {argument.name: argument.default for argument in LAUNCH_ARGUMENTS}
    unknown = sorted(set(arguments or {}) - set(values))
    if unknown:
        raise ConfigurationError(
            f'unknown launch argument(s) {", ".join(unknown)}; known: {", ".join(values)}')
    values.update({name: str(value) for name, value in (arguments or {}).items()})
    return values


def dds_environment(dds_profile: str, environment: Mapping[str, str]) -> Dict[str, str]:
    """Return the variables to set for `dds_profile` (empty if the user already chose one)."""
    if dds_profile in ('', 'none') or environment.get('FASTDDS_DEFAULT_PROFILES_FILE'):
        return {}
    path = resolve_config(dds_profile if dds_profile.endswith('.xml') else dds_profile + '.xml',
                          'fastdds')
    return {'FASTDDS_DEFAULT_PROFILES_FILE': str(path)}


def _absolute(namespace: str) -> str:
    return namespace if namespace.startswith('/') else '/' + namespace


def yaml_scalar(value: Any) -> str:
    """Return `value` written as a YAML scalar for `-p name:=value`, strings quoted as needed."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(yaml_scalar(str(item)) for item in value) + ']'
    if isinstance(value, str):
        if value == '' or yaml.safe_load(value) != value or ':' in value:
            return "'" + value.replace("'", "''") + "'"
    return str(value)


__all__ = ['LAUNCH_ARGUMENTS', 'LaunchArgument', 'NodeSpec', 'dds_environment', 'node_specs',
           'parse_bool', 'resolve_arguments', 'share_dir']
