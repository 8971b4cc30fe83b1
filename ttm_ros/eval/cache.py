"""Disk cache of translated frames, keyed by frame content and translator configuration.

Key = sha256(frame shape + RGB bytes) and sha256(json.dumps(translator.cache_key(),
sort_keys=True)); the file is `<root>/<config hash[:16]>/<frame hash>.png` (lossless
RGB PNG). Writes go to a temporary file in the same folder followed by `os.replace`,
so an interrupted run never leaves a truncated entry, and a re-run reads every frame
translated before the interruption.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
from typing import Any, Dict, Optional

import cv2
import numpy as np

from ttm_ros.core.translators.base import Translator

DEFAULT_CACHE_DIR = pathlib.Path('~/.cache/ttm_ros/translations')


def frame_hash(rgb: np.ndarray) -> str:
    """Return the sha256 hex digest of a frame's shape and pixel bytes."""
    digest = hashlib.sha256(repr(rgb.shape).encode())
    digest.update(np.ascontiguousarray(rgb).tobytes())
    return digest.hexdigest()


def config_hash(cache_key: Dict[str, Any]) -> str:
    """Return the sha256 hex digest of a translator's cache key (JSON, sorted keys)."""
    return hashlib.sha256(json.dumps(cache_key, sort_keys=True, default=str).encode()).hexdigest()


def write_png_atomic(path: pathlib.Path, image: np.ndarray) -> None:
    """Write a PNG (uint8 mono or RGB) through a temporary file and `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, encoded = cv2.imencode('.png', pixels)
    if not ok:
        raise OSError(f'PNG encoding failed for {path}')
    descriptor, temporary = tempfile.mkstemp(prefix='.' + path.name, suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(descriptor, 'wb') as stream:
            stream.write(encoded.tobytes())
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: pathlib.Path, text: str) -> None:
    """Write a text file through a temporary file and `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix='.' + path.name, suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(descriptor, 'w', encoding='utf-8') as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


class TranslationCache:
    """Translated frames of one translator configuration on disk."""

    def __init__(self, root: pathlib.Path, cache_key: Dict[str, Any]):
        self.cache_key = cache_key
        self.key_hash = config_hash(cache_key)
        self.folder = pathlib.Path(root).expanduser() / self.key_hash[:16]
        self.hits = 0
        self.misses = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file = self.folder / 'translator.json'
        if not key_file.is_file():
            write_text_atomic(key_file, json.dumps(cache_key, sort_keys=True, indent=1, default=str))

    def path(self, rgb: np.ndarray) -> pathlib.Path:
        return self.folder / f'{frame_hash(rgb)}.png'

    def get(self, rgb: np.ndarray) -> Optional[np.ndarray]:
        """Return the cached translation of `rgb`, or None."""
        path = self.path(rgb)
        if not path.is_file():
            return None
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None or bgr.shape != rgb.shape:
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def put(self, rgb: np.ndarray, translated: np.ndarray) -> None:
        write_png_atomic(self.path(rgb), translated)


class CachedTranslator(Translator):
    """A translator that reads translations from a `TranslationCache` and fills it.

    A translation that raises (`TranslationRejected`, `FrameError`) is not cached, so
    it is attempted again on the next run.
    """

    def __init__(self, translator: Translator, cache_root: pathlib.Path):
        super().__init__(translator.settings)
        self.inner = translator
        self.name = translator.name
        self.cache = TranslationCache(cache_root, translator.cache_key())
        self.last_hit = False

    def translate(self, rgb: np.ndarray) -> np.ndarray:
        cached = self.cache.get(rgb)
        self.last_hit = cached is not None
        if cached is not None:
            self.cache.hits += 1
            return cached
        translated = self.inner.translate(rgb)
        self.cache.misses += 1
        self.cache.put(rgb, np.ascontiguousarray(translated, dtype=np.uint8))
        return translated

    def cache_key(self) -> Dict[str, Any]:
        return self.inner.cache_key()

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return f'{self.inner.describe()} (cached in {self.cache.folder})'
