"""Per-client request limits shared by every API instance through Redis.

A client (its user when the request carries a valid token, else its IP) may make
``RATE_LIMIT_REQUESTS`` requests per window of ``RATE_LIMIT_WINDOW_SECONDS``. The window starts at
the client's first request (the counter key is created with the window as its TTL), so the key's
remaining TTL is exactly when requests are accepted again: that is the ``Retry-After`` of a 429.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import RedisError

from kstock import cache, keys
from kstock.config import get_settings
from kstock.errors import TooManyRequests
from kstock.logs import get_logger

log = get_logger("kstock.ratelimit")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int        # seconds until the window resets


def hit(client: str, *, limit: int | None = None, window: int | None = None) -> Decision:
    """Count one request of ``client``; fails open (allowed) when Redis is unavailable."""
    settings = get_settings()
    limit = settings.rate_limit_requests if limit is None else limit
    window = settings.rate_limit_window_seconds if window is None else window
    if limit <= 0:
        return Decision(True, 0, 0, 0)
    key = keys.rate_limit(client)
    try:
        pipe = cache.client().pipeline(transaction=True)
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
        if ttl is not None and ttl < 0:  # a counter without expiry would block its client for good
            cache.client().expire(key, window)
            ttl = window
    except RedisError as exc:
        # Refusing every request because the limiter's store is down would be worse than no limit.
        log.warning("rate limit unavailable", extra={"error": type(exc).__name__})
        return Decision(True, limit, limit, 0)
    retry_after = ttl if ttl and ttl > 0 else window
    return Decision(count <= limit, limit, max(0, limit - count), retry_after)


def enforce(client: str) -> Decision:
    """:func:`hit`, raising ``TOO_MANY_REQUESTS`` with ``Retry-After`` over the limit."""
    decision = hit(client)
    if not decision.allowed:
        raise TooManyRequests(
            f"too many requests: at most {decision.limit} per {get_settings().rate_limit_window_seconds} s; "
            f"retry in {decision.retry_after} s", retry_after=decision.retry_after)
    return decision
