"""The `ttm-ros` command; each sub-command lives in its own module under ttm_ros.commands.

  ttm-ros run   [--profile cpu] [--camera-topic T] [-p name=value ...]
  ttm-ros demo  [--input DIR_OR_BAG] [--labels DIR] [--out DIR] [--profile cpu]
  ttm-ros docs  [--check]
  ttm-ros eval  (--images DIR --labels DIR | --dataset DIR | --bag PATH) --out DIR
  ttm-ros record FRAMES_DIR BAG [--compressed]
  ttm-ros prompt TASK.yaml [--endpoint URL] [--model NAME] [--out FILE] [--render-only]
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.paths import data_root

#: Sub-command name -> module under ttm_ros.commands.
COMMANDS = {
    'run': 'ttm_ros.commands.run',
    'demo': 'ttm_ros.commands.demo',
    'docs': 'ttm_ros.commands.docs',
    'eval': 'ttm_ros.commands.eval',
    'record': 'ttm_ros.commands.record',
    'prompt': 'ttm_ros.commands.prompt',
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='ttm-ros', description='Test-Time Modification for ROS 2.')
    subparsers = parser.add_subparsers(dest='command', required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(subparsers.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault('TTM_ROS_DATA', str(data_root()))
    try:
        return importlib.import_module(COMMANDS[args.command]).run(args)
    except ConfigurationError as error:
        print(f'ttm-ros {args.command}: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    raise SystemExit(main())
