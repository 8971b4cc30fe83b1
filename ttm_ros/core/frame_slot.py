"""Hand-over of camera frames from a subscription callback to a processing worker.

Live mode keeps only the newest frame: a frame that arrives while another waits
replaces it, and the replaced one is counted as dropped, so a slow model never works
on stale frames. Evaluation mode keeps every frame in arrival order (nothing is
dropped), so metrics do not depend on the machine's speed.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Deque, Optional


class FrameSlot:
    """Thread-safe newest-frame slot (live) or FIFO queue (evaluation mode)."""

    def __init__(self, keep_all: bool = False):
        self.keep_all = keep_all
        self._items: Deque[Any] = collections.deque()
        self._condition = threading.Condition()
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item: Any) -> None:
        """Store `item`; in live mode replace (and count as dropped) a waiting frame."""
        # NOTE: evaluation mode keeps every frame with no upper bound, which suits replays
        # paced by their publisher; on a live camera faster than the models it grows.
        with self._condition:
            self.received += 1
            if not self.keep_all and self._items:
                self.dropped += len(self._items)
                self._items.clear()
            self._items.append(item)
            self._condition.notify()

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
