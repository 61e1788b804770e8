"""A total time budget for the KIS calls one API request makes (issue 17, finding 7).

The REST client's own limits (10 s per attempt, 5 attempts) suit jobs, not requests: a hung KIS
(accepts, never answers) kept ``/realtime-prices/polling`` busy past the function's 30 s and
the gateway answered 502. The HTTP layer opens a budget below the function timeout with
:func:`within`; every KIS attempt then waits at most what is left, no retry starts after it is
spent, and the caller gets :class:`KisDeadlineExceeded` (a :class:`KisUnavailable`: 503
``STREAM_UNAVAILABLE``). Outside a budget (jobs, the streamer) nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from kstock.kis.errors import KisDeadlineExceeded

_deadline: ContextVar[float | None] = ContextVar("kis_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """KIS calls inside the block share ``seconds`` in total (a nested budget never extends one)."""
    current = _deadline.get()
    proposed = time.monotonic() + seconds
    token = _deadline.set(proposed if current is None else min(current, proposed))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left of the current budget (None outside one)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def expired() -> bool:
    left = remaining()
    return left is not None and left <= 0


def timeout(default: float, what: str = "KIS") -> float:
    """The timeout for the next KIS attempt: ``default``, cut to what the budget has left."""
    left = remaining()
    if left is None:
        return default
    if left <= 0:
        raise KisDeadlineExceeded(f"{what}: the request's time for KIS is spent")
    return min(default, left)
