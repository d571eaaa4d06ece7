"""A client-side sliding-window rate limiter (the NVD API counts requests per rolling window).

The clock and the sleep are injectable, so that tests run on a fake clock
without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` per rolling ``window_s`` seconds, ``min_interval_s`` apart.

    ``margin_s`` widens the window a little: requests sent exactly ``window_s``
    apart may arrive closer together at the server.
    """

    requests: int
    window_s: float
    min_interval_s: float = 0.0
    margin_s: float = 0.5

    def __post_init__(self) -> None:
        if min(self.requests - 1, self.window_s, self.min_interval_s, self.margin_s) < 0:
            raise ValueError(f"invalid rate limit {self}")


# NVD's documented limits: 5 requests per rolling 30 s without an API key, 50 with
# one; NVD also advises sleeping about 6 s between requests without a key.
NVD_KEYLESS = RateLimit(requests=5, window_s=30.0, min_interval_s=6.0)
NVD_WITH_KEY = RateLimit(requests=50, window_s=30.0, min_interval_s=0.6)


class SlidingWindowLimiter:
    """Blocks in :meth:`acquire` until one more request fits the limit."""

    def __init__(
        self,
        limit: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()  # send times within the current window

    def acquire(self) -> None:
        """Wait until a request may be sent, and count it as sent now."""
        limit = self.limit
        window = limit.window_s + limit.margin_s
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - window:
                self._sent.popleft()
            wait = 0.0
            if len(self._sent) >= limit.requests:
                wait = self._sent[0] + window - now
            if self._sent:
                wait = max(wait, self._sent[-1] + limit.min_interval_s - now)
            if wait <= 0:
                self._sent.append(now)
                return
            self._sleep(wait)
