"""The torch device named by a model's `device` setting, for every torch backend."""

from __future__ import annotations

import re

from ttm_ros.core.errors import ConfigurationError

_CUDA_DEVICE = re.compile(r'^cuda(:\d+)?$')


def resolve_torch_device(device: str, parameter: str) -> str:
    """Return the torch device name for 'auto', 'cpu', 'cuda' or 'cuda:N'.

    'auto' picks CUDA when torch finds a CUDA device, else the CPU. Raises
    ConfigurationError naming `parameter` for any other value, or for CUDA without a
    CUDA device.
    """
    import torch  # optional dependency, imported when a torch backend is chosen
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cpu':
        return device
    if _CUDA_DEVICE.match(device):
        if not torch.cuda.is_available():
            raise ConfigurationError(f'{parameter}={device} but torch finds no CUDA device; use cpu or auto, '
                                     'or install a CUDA build of torch')
        return device
    raise ConfigurationError(f'{parameter}={device!r} is invalid; use auto, cpu, cuda or cuda:N')
