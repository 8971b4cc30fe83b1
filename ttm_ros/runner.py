"""`ttm-ros run`: start the launch file's nodes in this process, without `launch`.

The nodes come from `launch_description.node_specs`, the same list the launch file
uses, and receive their settings as `--ros-args`, as `ros2 launch` would pass them.
"""

from __future__ import annotations

import importlib
import os
from typing import Dict, List, Mapping

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.launch_description import (NodeSpec, fit_detection_input, dds_environment, node_specs,
                                        parameters_for, resolve_arguments)

#: Executable name (as in setup.py console_scripts) -> node class.
EXECUTABLES: Dict[str, str] = {
    'ttm_node': 'ttm_ros.ros.ttm_node:TTMNode',
    'ttm_lifecycle_node': 'ttm_ros.ros.ttm_node:ManagedTTMNode',
    'detection_node': 'ttm_ros.ros.detection_node:DetectionNode',
}


def node_class(spec: NodeSpec):
    """Return the rclpy node class that runs `spec.executable`."""
    try:
        module_name, _, attribute = EXECUTABLES[spec.executable].partition(':')
    except KeyError as error:
        raise ConfigurationError(
            f'no in-process node class for executable {spec.executable!r}; '
            f'known: {", ".join(EXECUTABLES)}') from error
    return getattr(importlib.import_module(module_name), attribute)


def run(arguments: Mapping[str, str], parameters: Mapping[str, object]) -> int:
    """Start every node of the launch description and spin until shutdown.

    `arguments` are launch argument values; `parameters` override node parameters
    ({name: value}) after every file. Returns the process exit code.
    """
    values = resolve_arguments(arguments)
    os.environ.update(dds_environment(values['dds_profile'], os.environ))
    specs = node_specs(values)
    for spec in specs:
        spec.parameters.update(parameters_for(spec.name, parameters))
    fit_detection_input(specs, parameters_for('detection_node', parameters))

    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from ttm_ros.ros.shutdown import raise_keyboard_interrupt_on_signals

    raise_keyboard_interrupt_on_signals()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    nodes: List = []
    code = 0
    try:
        executor = MultiThreadedExecutor()
        for spec in specs:
            node = node_class(spec)(cli_args=spec.ros_arguments())
            nodes.append(node)
            executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ConfigurationError as error:
        rclpy.logging.get_logger('ttm-ros run').fatal(f'cannot start: {error}')
        code = 1
    except ParameterException as error:
        rclpy.logging.get_logger('ttm-ros run').fatal(
            f'cannot start: {error}. Fix the value in the parameter file or the -p override; '
            'docs/reference.md lists every parameter with its type and range.')
        code = 1
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return code

