"""`ttm-ros docs`: write docs/reference.md from the code."""

import pathlib
import sys

HELP = 'write docs/reference.md from the code'


def add_arguments(parser) -> None:
    parser.add_argument('--check', action='store_true', help='fail if docs/reference.md is stale')
    parser.add_argument('--output', type=pathlib.Path, default=None,
                        help='file to write (default: docs/reference.md of the source checkout)')


def run(args) -> int:
    from ttm_ros.paths import SOURCE_ROOT
    from ttm_ros.reference import render_reference
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
