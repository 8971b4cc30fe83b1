"""`ttm-ros run`: start the launch file's nodes in this process."""

from ttm_ros.commands import add_parameter_option
from ttm_ros.launch_description import LAUNCH_ARGUMENTS

HELP = 'start the launch file nodes in this process (no ros2 launch needed)'


def add_arguments(parser) -> None:
    for argument in LAUNCH_ARGUMENTS:
        parser.add_argument('--' + argument.name.replace('_', '-'), default=argument.default,
                            help=f'{argument.description} (default: {argument.default!r})')
    add_parameter_option(parser)


def run(args) -> int:
    from ttm_ros.core.parameters import checked_overrides
    from ttm_ros.runner import run as run_nodes
    arguments = {argument.name: getattr(args, argument.name) for argument in LAUNCH_ARGUMENTS}
    return run_nodes(arguments, checked_overrides(dict(args.parameters)))
