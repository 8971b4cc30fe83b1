"""Rate limit for per-frame log messages, kept per kind of message.

rclpy's `throttle_duration_sec` limits one call site, so one broken camera would hide
the errors of every other camera and every other problem for the interval. Here each
kind of message (for example camera and error text, numbers ignored) has its own
interval, and a message that is logged again reports how many of its kind were left out.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Dict, Hashable, Optional, Tuple

_NUMBER = re.compile(r'\d+')


def message_kind(text: str) -> str:
    """Return `text` with every number replaced by '#', so one problem on different frames is one kind."""
    return _NUMBER.sub('#', text)


class RepeatFilter:
    """Filter that decides which messages to log: the first of each kind, then one per `interval` seconds."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self._clock = clock
        self._kinds: Dict[Hashable, Tuple[float, int]] = {}  # kind -> (last logged, left out since)

    def check(self, kind: Hashable) -> Optional[int]:
        """Return None to leave the message out, or how many of its kind were left out since the last one."""
        now = self._clock()
        last = self._kinds.get(kind)
        if last is not None and now - last[0] < self.interval:
            self._kinds[kind] = (last[0], last[1] + 1)
            return None
        self._kinds[kind] = (now, 0)
        return last[1] if last is not None else 0
