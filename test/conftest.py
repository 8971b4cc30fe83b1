"""Shared pytest fixtures: the real data folder and tiny-model helpers.

The real frames and models live outside the repository. `TTM_ROS_DATA` points at
them (default: `../shared/data` beside the checkout). When the folder is missing,
tests that need it fail under CI (`CI` set) and skip elsewhere with the reason.
"""

import os
import pathlib
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# Test helpers (tiny models, ROS harness) import each other by module name.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def data_root() -> pathlib.Path:
    """Return the folder with the real frames and models (may not exist)."""
    return pathlib.Path(os.environ.get('TTM_ROS_DATA', REPO_ROOT.parent / 'shared' / 'data'))


@pytest.fixture(scope='session')
def shared_data() -> pathlib.Path:
    """Return the real-data folder; fail under CI and skip elsewhere when it is missing."""
    root = data_root()
    if not (root / 'README.md').is_file():
        message = (f'real test data not found at {root}; set TTM_ROS_DATA to the folder '
                   'that holds acdc-mooss-1024x512/ and model-deeplab-edgetpu-slim-cityscapes/')
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)
    return root
