"""`ttm-ros demo`: the TTM node on real frames over DDS, with scores."""

import argparse
import pathlib
import sys
from typing import Dict

from ttm_ros.commands import add_parameter_option
from ttm_ros.paths import data_root

HELP = 'run the node on real frames over DDS and score it'
DEFAULT_DEMO_SET = 'acdc-mooss-1024x512'


def add_arguments(parser) -> None:
    parser.add_argument('--input', type=pathlib.Path,
                        help=f'folder of images or rosbag2 (default: $TTM_ROS_DATA/{DEFAULT_DEMO_SET}/images)')
    parser.add_argument('--labels', type=pathlib.Path,
                        help='folder of trainId or Cityscapes colour label PNGs, matched by frame id '
                             f'(default with the default input: $TTM_ROS_DATA/{DEFAULT_DEMO_SET}/labels)')
    parser.add_argument('--out', type=pathlib.Path, default=pathlib.Path('demo-out'),
                        help='output folder (default: demo-out)')
    parser.add_argument('--profile', default='cpu', help='parameter profile: cpu, gpu or a YAML path')
    parser.add_argument('--topic', default='', help='image topic when the input is a bag with several')
    parser.add_argument('--limit', type=non_negative_int, default=0,
                        help='process only the first N frames (0: all)')
    parser.add_argument('--timeout', type=positive_seconds, default=3600.0, help='seconds before giving up')
    parser.add_argument('--detection', action='store_true',
                        help='also run the detection node on the pseudo-source image and record its '
                             'boxes (<frame>_detections.json) and overlay')
    parser.add_argument('--boxes', type=pathlib.Path,
                        help='box labels for --detection: a COCO JSON file (images matched by the frame '
                             'id of file_name) or a folder of Pascal VOC XML files (matched by frame id); '
                             'adds mAP@50 to summary.json')
    parser.add_argument('--detection-timeout', type=positive_seconds, default=60.0,
                        help='seconds to wait for the detection result of a frame after its TTM '
                             'result before listing the frame as failed (default: 60)')
    add_parameter_option(parser)


def non_negative_int(text: str) -> int:
    """Parse a whole number of 0 or more for argparse."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'{value} is negative; give 0 (all frames) or more')
    return value


def positive_seconds(text: str) -> float:
    """Parse a duration in seconds above 0 for argparse."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f'{text} s is invalid; give a number of seconds above 0')
    return value


def run(args) -> int:
    from ttm_ros.demo import DemoOptions, run_demo
    from ttm_ros.ros.shutdown import raise_keyboard_interrupt_on_signals

    # SIGTERM unwinds like Ctrl-C, so the node, camera and recorder processes are stopped.
    raise_keyboard_interrupt_on_signals()
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
                          timeout=args.timeout, detection=args.detection, boxes=args.boxes,
                          detection_timeout=args.detection_timeout)
    try:
        result = run_demo(options)
    except (RuntimeError, TimeoutError) as error:
        print(f'ttm-ros demo: {error}', file=sys.stderr)
        return 1
    print_result(result, args.out)
    return 0 if result['frames_complete'] == result['frames_total'] else 1


def print_result(result: Dict, out: pathlib.Path) -> None:
    """Print the frame count, stage latencies and scores of a demo run."""
    print(f"{result['frames_complete']}/{result['frames_total']} frames complete (every output of every "
          f"node) in {result['wall_time_s']:.1f} s; outputs in {out}")
    for name in result['frames_failed']:
        print(f'  failed in the node: {name} (see logs/node.log)')
    for skipped in result['skipped_inputs']:
        print(f"  skipped input {skipped['path']}: {skipped['reason']}")
    for stage, values in result['latency_ms'].items():
        print(f"  {stage:<20} mean {values['mean_ms']:8.1f} ms   p95 {values['p95_ms']:8.1f} ms")
    for mode, scores in result['scores'].items():
        print(f"  {mode:<6} mIoU {scores['miou']:.4f}   pixel accuracy {scores['pixel_accuracy']:.4f}")
    if 'detection' in result:
        print_detection(result)
    print(f'summary: {out / "summary.json"}')


def print_detection(result: Dict) -> None:
    """Print the box count, the frames without detections and mAP@50 of a demo run."""
    column = result['detection']
    counts = [entry['boxes'] for entry in column['boxes_per_frame'].values() if entry is not None]
    print(f'  detection: {sum(counts)} boxes on {len(counts)} frames')
    reasons = {entry['name']: entry.get('detection_failed') for entry in result['frames']}
    for name in result['frames_detection_failed']:
        print(f'  no detections for: {name}: {reasons[name]} (see logs/node.log)')
    if column.get('map50') is not None:
        print(f"  detection mAP@50 {column['map50']:.4f} over {len(column['labelled_frames'])} "
              'labelled frames')
