"""Prompt embeddings cached on disk, so a text encoder runs once per (model, prompt).

Each entry is one safetensors file named by the SHA-256 of the model source, pipeline
class, prompt and dtype. Files are written to a temporary name and renamed, so a reader
never sees a partial file, and a file that fails to load counts as missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import tempfile
from typing import Dict, Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

LOGGER = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = pathlib.Path('~/.cache/ttm_ros/prompt_embeds')


def model_identity(model: str) -> str:
    """Return the model part of a cache key: the absolute path of a local folder, else
    the hub id as given."""
    path = pathlib.Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


class PromptEmbeddingCache:
    """Folder of cached prompt embeddings (one safetensors file per entry)."""

    def __init__(self, folder: str = ''):
        self.folder = pathlib.Path(folder).expanduser() if folder else DEFAULT_CACHE_DIR.expanduser()

    def key(self, model: str, pipeline: str, prompt: str, dtype: torch.dtype) -> str:
        """Return the hex key of the embeddings of `prompt` for `model` in `dtype`."""
        fields = {'model': model_identity(model), 'pipeline': pipeline, 'prompt': prompt,
                  'dtype': str(dtype)}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> pathlib.Path:
        """Return the file of the entry `key`."""
        return self.folder / f'{key}.safetensors'

    def load(self, key: str) -> Optional[Dict[str, torch.Tensor]]:
        """Return the tensors of entry `key` (on the CPU), or None when it is missing or
        unreadable."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            LOGGER.warning('ignoring unreadable prompt embedding cache file %s: %s', path, error)
            return None

    def save(self, key: str, tensors: Dict[str, torch.Tensor],
             description: Dict[str, str]) -> pathlib.Path:
        """Write `tensors` as entry `key`, with `description` as safetensors metadata."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        cpu_tensors = {name: tensor.detach().to('cpu').contiguous()
                       for name, tensor in tensors.items()}
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix='.tmp')
        os.close(handle)
        try:
            save_file(cpu_tensors, temporary, metadata=description)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return path
