"""Counters and per-stage latency statistics for diagnostics."""

from __future__ import annotations

import collections
import threading
from typing import Deque, Dict, Mapping

import numpy as np


class StageStats:
    """Mean and 95th percentile of recent latencies per pipeline stage, in milliseconds.

    Each stage keeps its last `window` samples, so the numbers describe recent
    behaviour rather than the whole run.
    """

    def __init__(self, window: int = 300):
        self.window = window
        self._samples: Dict[str, Deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, timings_ms: Mapping[str, float]) -> None:
        """Add one frame's stage timings (stage name -> milliseconds)."""
        with self._lock:
            for stage, value in timings_ms.items():
                samples = self._samples.setdefault(stage, collections.deque(maxlen=self.window))
                samples.append(float(value))

    def summary(self) -> Dict[str, Dict[str, float]]:
        """Return {stage: {'mean_ms', 'p95_ms', 'count'}} over the current window."""
        with self._lock:
            result = {}
            for stage, samples in self._samples.items():
                values = np.fromiter(samples, dtype=np.float64)
                result[stage] = {
                    'mean_ms': float(values.mean()),
                    'p95_ms': float(np.percentile(values, 95)),
                    'count': float(values.size),
                }
            return result
