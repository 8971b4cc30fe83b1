"""The `ttm-ros` command: run, demo, docs.

  ttm-ros run   [--profile cpu] [--camera-topic T] [-p name=value ...]
  ttm-ros demo  [--input DIR_OR_BAG] [--labels DIR] [--out DIR] [--profile cpu]
  ttm-ros docs  [--check]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import Dict, List, Optional

import yaml

from ttm_ros.core.errors import ConfigurationError
from ttm_ros.launch_description import LAUNCH_ARGUMENTS
from ttm_ros.paths import data_root

DEFAULT_DEMO_SET = 'acdc-mooss-1024x512'


def parse_parameter(text: str) -> tuple:
    """Parse `name=value` (value in YAML: 0.5, true, text) into (name, value)."""
    name, separator, value = text.partition('=')
    if not separator or not name:
        raise argparse.ArgumentTypeError(f'parameter {text!r} is invalid; write name=value')
    return name.strip(), yaml.safe_load(value) if value else ''


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='ttm-ros', description='Test-Time Modification for ROS 2.')
    commands = parser.add_subparsers(dest='command', required=True)

    run = commands.add_parser('run', help='start the launch file nodes in this process')
    for argument in LAUNCH_ARGUMENTS:
        run.add_argument('--' + argument.name.replace('_', '-'), default=argument.default,
                         help=f'{argument.description} (default: {argument.default!r})')
    run.add_argument('-p', '--param', dest='parameters', action='append', default=[],
                     type=parse_parameter, metavar='NAME=VALUE',
                     help='node parameter override, applied after every file; repeatable')

    demo = commands.add_parser('demo', help='run the node on real frames over DDS and score it')
    demo.add_argument('--input', type=pathlib.Path,
                      help=f'folder of images or rosbag2 (default: $TTM_ROS_DATA/{DEFAULT_DEMO_SET}/images)')
    demo.add_argument('--labels', type=pathlib.Path,
                      help='folder of trainId or Cityscapes colour label PNGs, matched by frame id '
                           f'(default with the default input: $TTM_ROS_DATA/{DEFAULT_DEMO_SET}/labels)')
    demo.add_argument('--out', type=pathlib.Path, default=pathlib.Path('demo-out'),
                      help='output folder (default: demo-out)')
    demo.add_argument('--profile', default='cpu', help='parameter profile: cpu, gpu or a YAML path')
    demo.add_argument('--topic', default='', help='image topic when the input is a bag with several')
    demo.add_argument('--limit', type=int, default=0, help='process only the first N frames')
    demo.add_argument('--timeout', type=float, default=3600.0, help='seconds before giving up')
    demo.add_argument('-p', '--param', dest='parameters', action='append', default=[],
                      type=parse_parameter, metavar='NAME=VALUE', help='node parameter override')

    docs = commands.add_parser('docs', help='write docs/reference.md from the code')
    docs.add_argument('--check', action='store_true', help='fail if docs/reference.md is stale')
    docs.add_argument('--output', type=pathlib.Path, default=None)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault('TTM_ROS_DATA', str(data_root()))
    try:
        if args.command == 'run':
            return _run(args)
        if args.command == 'demo':
            return _demo(args)
        return _docs(args)
    except ConfigurationError as error:
        print(f'ttm-ros {args.command}: {error}', file=sys.stderr)
        return 2


def _run(args) -> int:
    from ttm_ros.runner import run
    arguments = {a.name: getattr(args, a.name) for a in LAUNCH_ARGUMENTS}
    return run(arguments, dict(args.parameters))


def _demo(args) -> int:
    from ttm_ros.demo import DemoOptions, run_demo
    if args.input is None:
        default_set = data_root() / DEFAULT_DEMO_SET
        if not default_set.is_dir():
            print(f'ttm-ros demo: the default frames {default_set} do not exist. Set TTM_ROS_DATA '
                  'to the folder that holds acdc-mooss-1024x512/ and '
                  'model-deeplab-edgetpu-slim-cityscapes/, or give --input DIR_OR_BAG '
                  '[--labels DIR] and a segmenter (-p segmenter.model=FILE.onnx).', file=sys.stderr)
            return 2
        args.input = default_set / 'images'
        args.labels = args.labels or default_set / 'labels'
    options = DemoOptions(input=args.input, out=args.out, labels=args.labels, profile=args.profile,
                          parameters=dict(args.parameters), topic=args.topic, limit=args.limit,
                          timeout=args.timeout)
    result = run_demo(options)
    _print_demo_result(result, args.out)
    return 0 if result['frames_complete'] == result['frames_total'] else 1


def _print_demo_result(result: Dict, out: pathlib.Path) -> None:
    print(f"processed {result['frames_complete']}/{result['frames_total']} frames "
          f"in {result['wall_time_s']:.1f} s; outputs in {out}")
    for stage, values in result['latency_ms'].items():
        print(f"  {stage:<20} mean {values['mean_ms']:8.1f} ms   p95 {values['p95_ms']:8.1f} ms")
    for mode, scores in result['scores'].items():
        print(f"  {mode:<6} mIoU {scores['miou']:.4f}   pixel accuracy {scores['pixel_accuracy']:.4f}")
    print(f'summary: {out / "summary.json"}')


def _docs(args) -> int:
    from ttm_ros.reference import render_reference
    from ttm_ros.paths import SOURCE_ROOT
    output = args.output or SOURCE_ROOT / 'docs' / 'reference.md'
    text = render_reference()
    if args.check:
        current = output.read_text() if output.is_file() else ''
        if current != text:
            print(f'{output} is stale; run `ttm-ros docs` and commit it', file=sys.stderr)
            return 1
        return 0
    output.write_text(text)
    print(f'wrote {output}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
