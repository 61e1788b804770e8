"""A token bucket per app key, shared by every caller in the process.

KIS counts requests per app key per second (20/s real, 2/s mock) and answers EGW00201 beyond;
pacing here keeps that answer rare, and the REST client retries it when it still comes.
Thread-safe: Lambda handlers, jobs and the streamer's worker threads share one bucket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token now (possibly going into debt) and return how long to wait before using it.

        Reserving under the lock and sleeping outside it keeps callers in FIFO-ish order without
        holding the lock while asleep.
        """
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Block until a request may be sent; returns the time waited."""
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)
        return delay


_buckets: dict[str, TokenBucket] = {}
_registry_lock = threading.Lock()


def bucket_for(app_id: str, rate: float, burst: float = 1.0) -> TokenBucket:
    """The process-wide bucket of an app key (by its hash); rebuilt if the rate changes."""
    with _registry_lock:
        bucket = _buckets.get(app_id)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:
            bucket = _buckets[app_id] = TokenBucket(rate, burst)
        return bucket
