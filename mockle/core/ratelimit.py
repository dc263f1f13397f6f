"""Per-consumer rate limiting (off by default; ``--rate-limit N`` requests per second).

A token bucket per consumer, refilled from the injected clock: a burst of up to N requests,
then N per second. Over the limit the Connector API answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import math

from mockle.core import errors
from mockle.core.clock import Clock


class RateLimiter:
    def __init__(self, clock: Clock, per_second: float | None) -> None:
        self._clock = clock
        self.per_second = per_second
        self._buckets: dict[tuple[str, str], tuple[float, int]] = {}  # key -> (tokens, at_ms)

    def check(self, account: str, consumer_id: str) -> None:
        """Take one token for the consumer, or raise :class:`RateLimited`."""
        rate = self.per_second
        if rate is None:
            return
        now = self._clock.now_ms()
        key = (account, consumer_id)
        tokens, at = self._buckets.get(key, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate / 1000)
        if tokens < 1:
            wait = math.ceil((1 - tokens) / rate)
            self._buckets[key] = (tokens, now)
            raise errors.RateLimited(
                f"consumer {consumer_id} exceeded {rate:g} requests per second",
                retry_after=max(1, wait),
                hint=f"mockle's --rate-limit is {rate:g} requests per second per consumer",
            )
        self._buckets[key] = (tokens - 1, now)

    def reset(self, account: str | None = None) -> None:
        if account is None:
            self._buckets.clear()
        else:
            for key in [k for k in self._buckets if k[0] == account]:
                del self._buckets[key]
