"""Per-client request limits shared by every API instance through Redis (issue 17: done properly).

A sliding window log: a client may make ``RATE_LIMIT_REQUESTS`` requests in *any* span of
``RATE_LIMIT_WINDOW_SECONDS`` (the fixed window it replaces let about twice that through across a
window boundary). Each accepted request is one member of a sorted set scored by Redis's own clock
(one clock for every instance); members older than the window are dropped on the way, refused
requests are not recorded, so a client's set never holds more than its limit. ``Retry-After`` is
exactly when the oldest request in the window leaves it.

Every request counts against its source IP; a request with a well-signed token also counts
against its user (so N accounts behind one IP do not get N times the limit, and one user cannot
spread over IPs).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from kstock import cache, keys
from kstock.config import get_settings
from kstock.errors import TooManyRequests
from kstock.logs import get_logger

log = get_logger("kstock.ratelimit")

# KEYS[1] the client's log; ARGV limit, window (ms), a unique member. Returns {allowed, remaining, retry_ms}.
_SLIDING_WINDOW = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local kind = redis.call('TYPE', key)['ok']
if kind ~= 'zset' and kind ~= 'none' then redis.call('DEL', key) end  -- a fixed-window counter of old
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
return {0, 0, window - (now - tonumber(oldest[2]))}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until a request would be accepted again (0 when allowed)


def hit(client: str, *, limit: int | None = None, window: int | None = None) -> Decision:
    """Count one request of ``client``; fails open (allowed) when Redis is unavailable."""
    settings = get_settings()
    limit = settings.rate_limit_requests if limit is None else limit
    window = settings.rate_limit_window_seconds if window is None else window
    if limit <= 0:
        return Decision(True, 0, 0, 0)
    try:
        answer: Any = cache.client().eval(
            _SLIDING_WINDOW, 1, keys.rate_limit(client), str(limit), str(window * 1000), uuid.uuid4().hex
        )
    except RedisError as exc:
        # Refusing every request because the limiter's store is down would be worse than no limit.
        log.warning("rate limit unavailable", extra={"error": type(exc).__name__})
        return Decision(True, limit, limit, 0)
    allowed, remaining, retry_ms = (int(v) for v in answer)
    if allowed:
        return Decision(True, limit, remaining, 0)
    return Decision(False, limit, 0, max(1, math.ceil(retry_ms / 1000)))


def enforce(*clients: str) -> Decision:
    """:func:`hit` for each client in turn (IP first, then user); ``TOO_MANY_REQUESTS`` with
    ``Retry-After`` as soon as one is over its limit (later ones are then not counted)."""
    decision = Decision(True, 0, 0, 0)
    for client in clients:
        decision = hit(client)
        if not decision.allowed:
            raise TooManyRequests(
                f"too many requests: at most {decision.limit} per {get_settings().rate_limit_window_seconds} s; "
                f"retry in {decision.retry_after} s",
                retry_after=decision.retry_after,
            )
    return decision
