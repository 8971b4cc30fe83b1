"""Hand-over of camera frames from a subscription callback to a processing worker.

Live mode keeps only the newest frame: a frame that arrives while another waits
replaces it, and the replaced one is counted as dropped, so a slow model never works
on stale frames. Evaluation mode keeps every frame in arrival order, so metrics do
not depend on the machine's speed, up to `max_queue` frames: a replay faster than
the models for that long loses its oldest waiting frame, counted as dropped, instead
of growing without bound.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Deque, Optional


class FrameSlot:
    """Thread-safe newest-frame slot (live) or FIFO queue (evaluation mode)."""

    def __init__(self, keep_all: bool = False, max_queue: int = 100):
        self.keep_all = keep_all
        self.max_queue = max_queue
        self._items: Deque[Any] = collections.deque()
        self._condition = threading.Condition()
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item: Any) -> int:
        """Store `item` and return how many waiting frames it pushed out (counted as dropped).

        Live mode replaces a waiting frame; evaluation mode drops the oldest one only
        when `max_queue` frames wait.
        """
        with self._condition:
            self.received += 1
            if self.keep_all:
                pushed_out = max(len(self._items) + 1 - self.max_queue, 0)
            else:
                pushed_out = len(self._items)
            for _ in range(pushed_out):
                self._items.popleft()
            self.dropped += pushed_out
            self._items.append(item)
            self._condition.notify()
            return pushed_out

    def take(self, timeout: Optional[float] = None) -> Optional[Any]:
        """Return the next frame, waiting up to `timeout` seconds; None on timeout or close."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if not self._items:
                return None
            return self._items.popleft()

    def pending(self) -> int:
        """Return how many frames wait to be taken."""
        with self._condition:
            return len(self._items)

    def reopen(self) -> None:
        """Accept frames again after `close`, starting empty; the counters are kept."""
        with self._condition:
            self._items.clear()
            self._closed = False

    def close(self) -> None:
        """Wake every waiting `take`; later calls return None once the slot is empty."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
