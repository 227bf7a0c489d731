"""Per-token sliding-window rate limit with ``Retry-After`` computation."""

from __future__ import annotations

import math
from collections import deque


class SlidingWindow:
    """Allow at most ``limit`` requests in any window of ``window`` seconds.

    Rejected requests are not recorded, so they do not extend the wait.
    """

    __slots__ = ("_times", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def acquire(self, now: float) -> int | None:
        """Record a request at ``now``; return ``None`` if allowed, else seconds to wait (ceil)."""
        if self.limit <= 0:
            return None
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            self._times.append(now)
            return None
        wait = self._times[0] + self.window - now
        return max(1, math.ceil(wait))
