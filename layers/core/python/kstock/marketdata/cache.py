"""Redis caches of answers derived from market data (company info, rankings).

Entries live in plain keys or in hash fields with a TTL, and are dropped when market data is
refreshed. A refresh also bumps a generation counter, and an entry is only stored if the
generation it was computed under is still current: an answer computed from the old figures
while a refresh ran can never land in the fresh cache. Redis being down only costs speed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from redis.exceptions import RedisError

from kstock import cache, keys
from kstock.logs import get_logger

log = get_logger("kstock.cache")
T = TypeVar("T")

# KEYS: generation, target. ARGV: expected generation, hash field ('' = plain key), value, ttl.
_STORE = """
local current = redis.call('GET', KEYS[1]) or '0'
if current ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('SET', KEYS[2], ARGV[3], 'EX', tonumber(ARGV[4]))
else
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4])) end
end
return 1
"""


def cached(
    key: str, field: str | None, ttl: int, produce: Callable[[], T], dump: Callable[[T], Any], load: Callable[[Any], T]
) -> tuple[T, bool]:
    """The cached value of ``key`` (``field`` of a hash, or the plain key), else ``produce()``
    stored for ``ttl`` seconds. Returns ``(value, hit)``."""
    try:
        client = cache.client()
        pipe = client.pipeline(transaction=False)
        pipe.get(keys.MARKET_DATA_GENERATION)
        pipe.hget(key, field) if field is not None else pipe.get(key)
        generation, raw = pipe.execute()
    except RedisError as exc:
        log.warning("cache unavailable", extra={"key": key, "error": type(exc).__name__})
        return produce(), False
    if raw is not None:
        return load(json.loads(raw)), True
    value = produce()
    try:
        client.register_script(_STORE)(
            keys=[keys.MARKET_DATA_GENERATION, key],
            args=[generation or "0", field or "", json.dumps(dump(value), ensure_ascii=False), ttl],
        )
    except RedisError as exc:
        log.warning("cache not stored", extra={"key": key, "error": type(exc).__name__})
    return value, False


def invalidate(plain_keys: Iterable[str] = (), hashes: Iterable[str] = ()) -> None:
    """Drop entries and bump the generation (answers being computed now are not stored)."""
    doomed = [*plain_keys, *hashes]
    try:
        pipe = cache.client().pipeline(transaction=True)
        pipe.incr(keys.MARKET_DATA_GENERATION)
        for start in range(0, len(doomed), 500):
            pipe.delete(*doomed[start : start + 500])
        pipe.execute()
    except RedisError as exc:  # entries then expire with their TTL; the new figures are stored already
        log.warning("cache not invalidated", extra={"keys": len(doomed), "error": type(exc).__name__})
