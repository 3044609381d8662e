"""Requests per minute, per web session and per client address: token buckets in memory.

A bucket holds a minute's allowance and refills steadily, so a person may click quickly for a
moment but not hammer the server. The buckets live in the process: they guard this process's
work, and with several replicas each counts its own share (docs/web-channel.md). Buckets full
again are forgotten, so memory stays bounded by the number of recent visitors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

#: Buckets kept before the full ones are dropped.
_PRUNE_AT = 10_000


class Limiter:
    """Allow ``per_minute`` requests a minute for each key, in bursts up to that many.

    Args:
        per_minute: the allowance of one key.
        clock: seconds, monotonic (tests move it).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with no buckets."""
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def allow(self, key: Hashable) -> bool:
        """Take one request from ``key``'s bucket; False when it is empty."""
        now = self.clock()
        tokens, stamp = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > _PRUNE_AT:
            self._prune(now)
        return allowed

    def retry_after(self, key: Hashable) -> int:
        """Seconds until ``key`` may send again (at least 1)."""
        tokens, _stamp = self._buckets.get(key, (self.capacity, self.clock()))
        return max(1, int((1.0 - tokens) / self.rate) + 1)

    def _prune(self, now: float) -> None:
        self._buckets = {
            key: (tokens, stamp)
            for key, (tokens, stamp) in self._buckets.items()
            if tokens + (now - stamp) * self.rate < self.capacity
        }

    def __len__(self) -> int:
        """Buckets held."""
        return len(self._buckets)
