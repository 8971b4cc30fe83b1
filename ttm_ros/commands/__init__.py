"""Sub-commands of `ttm-ros`, one module each.

Every module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`,
and imports heavy packages (rclpy, torch) inside `run` only, so `ttm-ros --help` stays
fast. `ttm_ros.cli.COMMANDS` lists the modules.
"""

import argparse

import yaml


def parse_parameter(text: str) -> tuple:
    """Parse `name=value` (value in YAML: 0.5, true, text) into (name, value)."""
    name, separator, value = text.partition('=')
    if not separator or not name:
        raise argparse.ArgumentTypeError(f'parameter {text!r} is invalid; write name=value')
    if name.endswith(':'):
        raise argparse.ArgumentTypeError(f'parameter {text!r} uses the ROS form name:=value; write '
                                         f'{name[:-1]}={value}')
    if not value:
        return name.strip(), ''
    parsed = yaml.safe_load(value)
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return name.strip(), parsed  # a string array such as input.cameras
    # A value that YAML reads as a mapping or another list ("clear day: dry road") is text.
    return name.strip(), parsed if isinstance(parsed, (str, int, float, bool)) else value


def add_parameter_option(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable `-p name=value` node parameter override."""
    parser.add_argument('-p', '--param', dest='parameters', action='append', default=[],
                        type=parse_parameter, metavar='NAME=VALUE',
                        help='node parameter override, applied after every file; repeatable. '
                             'NAME goes to every node that has it (camera input: ttm_node only); '
                             'detection_node.NAME or ttm_node.NAME to one node')
