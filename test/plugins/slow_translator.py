"""A translator plug-in for tests: returns the frame unchanged after a fixed delay.

Loaded by name as `slow_translator:SlowTranslator` (this folder on PYTHONPATH), the
way users plug in their own translators. The delay stands in for a diffusion editor
that is slower than the camera.
"""

import os
import time

import numpy as np

from ttm_ros.core.translators.base import Translator

DELAY_S = float(os.environ.get('TTM_TEST_TRANSLATOR_DELAY_S', '0.5'))


class SlowTranslator(Translator):
    """Identity translation that takes DELAY_S seconds per frame."""

    name = 'slow-identity'

    def translate(self, rgb: np.ndarray) -> np.ndarray:
        time.sleep(DELAY_S)
        return rgb.copy()


class InvertTranslator(Translator):
    """Returns the colour negative of the frame, so a test can tell it from the original."""

    name = 'invert'

    def translate(self, rgb: np.ndarray) -> np.ndarray:
        return 255 - rgb
