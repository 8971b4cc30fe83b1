"""Lookup of the package's installed files (config, launch).

Lookup order for the share folder: the ament index (a colcon install or a sourced
workspace), then the source checkout this module was imported from (an editable
install), then `<sys.prefix>/share/ttm_ros` (pip install into a venv).
"""

from __future__ import annotations

import pathlib
import sys

from ttm_ros.core.errors import ConfigurationError

PACKAGE = 'ttm_ros'
SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[1]


def share_dir() -> pathlib.Path:
    """Return the folder that contains config/ and launch/ of this package."""
    try:
        from ament_index_python.packages import (
            PackageNotFoundError, get_package_share_directory)
        try:
            return pathlib.Path(get_package_share_directory(PACKAGE))
        except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH is unset.
            pass
    except ImportError:
        pass
    for candidate in (SOURCE_ROOT, pathlib.Path(sys.prefix) / 'share' / PACKAGE):
        if (candidate / 'config').is_dir():
            return candidate
    raise ConfigurationError(
        f'cannot find the {PACKAGE} share folder (config/, launch/); install the package '
        'with colcon or pip, or run from the source checkout')


def resolve_config(name: str, subfolder: str = '') -> pathlib.Path:
    """Return the path of a config file given as a path or as a bare name.

    A bare name (`cpu`, `deeplab_edgetpu_cityscapes`) is looked up as
    `<share>/config/<subfolder>/<name>.yaml`.
    """
    path = pathlib.Path(name).expanduser()
    if path.is_file():
        return path
    folder = share_dir() / 'config' / subfolder
    for candidate in (folder / name, folder / f'{name}.yaml'):
        if candidate.is_file():
            return candidate
    available = sorted(p.stem for p in folder.glob('*.yaml'))
    raise ConfigurationError(
        f'config file {name!r} not found as a path nor in {folder}; give an existing file '
        f'or one of: {", ".join(available) or "(none)"}')


def data_root() -> pathlib.Path:
    """Return the folder of the real test frames and models.

    `TTM_ROS_DATA` when set, else `shared/data` beside the source checkout. The folder
    may not exist; callers say what to point the variable at.
    """
    import os
    configured = os.environ.get('TTM_ROS_DATA')
    if configured:
        return pathlib.Path(configured)
    return SOURCE_ROOT.parent / 'shared' / 'data'
