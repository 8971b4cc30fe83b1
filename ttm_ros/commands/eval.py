"""`ttm-ros eval`: score base, TTM and fused predictions on a dataset folder or a rosbag2."""

import pathlib
import sys

from ttm_ros.commands import add_parameter_option

HELP = 'score base, translated and fused predictions on a dataset or rosbag2 and write a report'


def add_arguments(parser) -> None:
    source = parser.add_argument_group('input (one of --images, --dataset, --bag)')
    source.add_argument('--images', type=pathlib.Path, help='folder of images (with --labels)')
    source.add_argument('--dataset', type=pathlib.Path,
                        help='dataset folder in its published layout (Cityscapes, ACDC, Dark Zurich, BDD100K, '
                             'VOC, COCO, ImageNet-R, images/ + labels/)')
    source.add_argument('--bag', type=pathlib.Path, help='rosbag2 (mcap or sqlite3) with a camera topic')
    parser.add_argument('--labels', type=pathlib.Path,
                        help='folder of trainId or Cityscapes colour label PNGs, matched by frame id '
                             '(bag frames: message index 000042 or header stamp in ns)')
    parser.add_argument('--annotations', type=pathlib.Path, help='COCO or BDD100K JSON boxes beside a bag')
    parser.add_argument('--topic', default='', help='image topic of the bag (default: its only image topic)')
    parser.add_argument('--layout', default='auto', help='dataset layout (default: detected)')
    parser.add_argument('--split', default='val', help='dataset split folder (default: val)')
    parser.add_argument('--out', type=pathlib.Path, required=True, help='output folder of masks and reports')
    parser.add_argument('--profile', default='cpu', help='parameter profile: cpu, gpu or a YAML path')
    parser.add_argument('--translator', action='append', default=[], metavar='NAME',
                        help='translator to compare (repeatable; default: the profile translator)')
    parser.add_argument('--model', action='append', default=[], metavar='BACKEND[:CONFIG_OR_MODEL]',
                        help='segmenter, classifier or detector (repeatable), e.g. onnx:deeplab_edgetpu_cityscapes, '
                             'onnx:mobilenetv2_int8_imagenet, transformers:DIR (default: the profile segmenter, '
                             'the MobileNetV2 classifier or the YOLOX detector)')
    parser.add_argument('--cache', type=pathlib.Path, default=None,
                        help='translation cache folder (default: ~/.cache/ttm_ros/translations)')
    parser.add_argument('--limit', type=int, default=0, help='evaluate only the first N frames')
    parser.add_argument('--live', action='store_true',
                        help='replay the bag through the running node (evaluation mode, /clock from the bag)')
    parser.add_argument('--record', type=pathlib.Path, metavar='BAG_DIR',
                        help='also write the frames and outputs to a new rosbag2 folder for Foxglove or RViz')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    add_parameter_option(parser)


def run(args) -> int:
    from ttm_ros.core.errors import ConfigurationError
    from ttm_ros.eval.evaluate import evaluate_offline, plan_from_profile
    from ttm_ros.eval.outputs import write_output_bag

    if args.record is not None:
        from ttm_ros.eval.bags import check_new_bag
        check_new_bag(args.record)  # before the evaluation, not after it
    dataset = open_input(args)
    options = {'limit': args.limit, 'progress': not args.no_progress}
    if args.cache is not None:
        options['cache_dir'] = args.cache
    plan = plan_from_profile(dataset.task, args.out, args.profile, dict(args.parameters), args.translator,
                             args.model, **options)
    if args.live:
        if args.bag is None:
            raise ConfigurationError('--live replays a rosbag2; give --bag')
        from ttm_ros.eval.live import run_live
        document = run_live(dataset, plan, args.topic, args.profile)
    else:
        document = evaluate_offline(dataset, plan)
    if args.record is not None:
        write_output_bag(args.record, dataset, plan, document['dataset']['frame_ids'])
    print_summary(document, args.out)
    return 0


def open_input(args):
    """Return the Dataset named by --images/--dataset/--bag."""
    from ttm_ros.core.errors import ConfigurationError
    from ttm_ros.eval import bags, datasets
    given = [name for name in ('images', 'dataset', 'bag') if getattr(args, name) is not None]
    if len(given) != 1:
        raise ConfigurationError('give exactly one of --images DIR (with --labels DIR), --dataset DIR, --bag PATH')
    if args.annotations is not None and (args.bag is None or args.labels is not None):
        raise ConfigurationError('--annotations FILE gives the boxes of a --bag; give it with --bag and without '
                                 '--labels (label PNGs are for segmentation)')
    if args.images is not None:
        if args.labels is None:
            raise ConfigurationError('--images needs --labels DIR with the label PNGs')
        return datasets.read_image_folder(args.images, args.labels)
    if args.dataset is not None:
        return datasets.open_dataset(args.dataset, args.layout, args.split)
    return bags.read_bag(args.bag, args.topic, args.labels or args.annotations)


def print_summary(document: dict, out: pathlib.Path) -> None:
    """Print the headline score of every model and column."""
    for model, columns in document['results'].items():
        for column, scores in columns.items():
            if column == 'groups':
                continue
            value = {'segmentation': ('mIoU', scores.get('miou')),
                     'classification': ('top-1', scores.get('top1_imagenet_r')),
                     'detection': ('mAP@50', scores.get('map50'))}[document['task']]
            shown = '-' if value[1] is None else f'{value[1]:.4f}'
            print(f'  {model:<24} {column:<24} {value[0]} {shown}')
    print(f'report: {out / "report.html"}; numbers: {out / "metrics.json"}', file=sys.stdout)
