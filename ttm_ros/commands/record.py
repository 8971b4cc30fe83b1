"""`ttm-ros record`: write a folder of frames as a rosbag2 camera topic."""

import pathlib

HELP = 'write a folder of frames as a rosbag2 camera bag (raw or compressed)'


def add_arguments(parser) -> None:
    parser.add_argument('frames', type=pathlib.Path, help='folder of image files, recorded in name order')
    parser.add_argument('bag', type=pathlib.Path, help='rosbag2 folder to create (must not exist)')
    parser.add_argument('--topic', default='/camera/image_raw', help='image topic (default: /camera/image_raw)')
    parser.add_argument('--compressed', action='store_true',
                        help='write sensor_msgs/CompressedImage on <topic>/compressed (JPEG files stay JPEG, '
                             'others become PNG)')
    parser.add_argument('--rate', type=float, default=10.0, help='frame rate of the stamps in Hz (default: 10)')
    parser.add_argument('--start', type=float, default=1_700_000_000.0,
                        help='header stamp of the first frame in seconds since the epoch')
    parser.add_argument('--frame-id', default='camera', help='header frame_id (default: camera)')
    parser.add_argument('--storage', default='mcap', choices=('mcap', 'sqlite3'), help='storage plugin')


def run(args) -> int:
    from ttm_ros.eval.bags import image_files, write_camera_bag
    frames = image_files(args.frames)
    stamps = write_camera_bag(frames, args.bag, args.topic, args.compressed, args.rate,
                              int(round(args.start * 1e9)), args.frame_id, args.storage)
    print(f'wrote {len(stamps)} frames to {args.bag}')
    return 0
