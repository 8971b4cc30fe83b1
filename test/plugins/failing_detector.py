"""A detector plug-in for tests: one fixed box, and an error on frames below a width.

Loaded by name as `failing_detector:FailOnNarrowFrames` (this folder on PYTHONPATH),
the way users plug in their own detectors. The error simulates a model that
fails on one frame: the detection node publishes no boxes for it, only a timing
message that reports the failure.
"""

from typing import Sequence

import numpy as np

from ttm_ros.core.detectors.base import Detector, RawDetections

MIN_WIDTH = 256


class FailOnNarrowFrames(Detector):
    """Returns one `car` box over the centre quarter; raises on frames under MIN_WIDTH wide."""

    name = 'fail-on-narrow-frames'

    @property
    def model_class_names(self) -> Sequence[str]:
        return ('car',)

    def predict(self, rgb: np.ndarray) -> RawDetections:
        height, width = rgb.shape[:2]
        if width < MIN_WIDTH:
            raise RuntimeError(f'test detector: frame is {width} px wide, under {MIN_WIDTH}')
        box = np.array([[width / 4, height / 4, 3 * width / 4, 3 * height / 4]])
        return RawDetections(box, np.array([0.9]), ['car'])
