"""Start the TTM node: `ros2 launch ttm_ros ttm.launch.py camera_topic:=/cam/image_raw`.

The node list comes from ttm_ros.launch_description.node_specs, which `ttm-ros run`
uses too; see that module for the arguments and the parameter precedence.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from ttm_ros.launch_description import LAUNCH_ARGUMENTS, dds_environment, node_specs


def _launch_nodes(context):
    values = {argument.name: LaunchConfiguration(argument.name).perform(context)
              for argument in LAUNCH_ARGUMENTS}
    actions = [SetEnvironmentVariable(name, value)
               for name, value in dds_environment(values['dds_profile'], os.environ).items()]
    for spec in node_specs(values):
        actions.append(Node(
            package=spec.package,
            executable=spec.executable,
            name=spec.name,
            namespace=spec.namespace,
            parameters=[*spec.parameter_files, spec.parameters],
            remappings=spec.remappings,
            output='screen',
            emulate_tty=True,
        ))
    return actions


def generate_launch_description():
    return LaunchDescription([
        *[DeclareLaunchArgument(argument.name, default_value=argument.default,
                                description=argument.description)
          for argument in LAUNCH_ARGUMENTS],
        OpaqueFunction(function=_launch_nodes),
    ])
