"""The identity translator: the pseudo-source frame is a copy of the input.

It gives the no-translation baseline (fusion then averages two identical
predictions) and exercises the whole node without any model.
"""

from __future__ import annotations

import numpy as np

from ttm_ros.core.translators.base import Translator
from ttm_ros.core.translators.frames import validate_rgb_frame


class IdentityTranslator(Translator):
    """Returns a copy of every frame."""

    name = 'identity'

    def translate(self, rgb: np.ndarray) -> np.ndarray:
        """Return a C-contiguous copy of `rgb`."""
        validate_rgb_frame(rgb)
        return np.array(rgb, copy=True, order='C')

    def cache_key(self):
        """Return the name only: no setting changes the output."""
        return {'name': self.name}

    def describe(self) -> str:
        """Return one line for the start-up log."""
        return 'identity translator (copies each frame)'
