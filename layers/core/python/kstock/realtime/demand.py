"""Demand for live prices: the counts the streamer plans KIS slots with, and the announcements
its fan-out keeps its index current from.

* ``ws:demand`` (hash symbol -> subscriptions): changed only by subscriptions the registry
  reports as really added or removed, so retries never count twice; a count that reaches 0 is
  deleted (a symbol nobody wants leaves the hash).
* ``ws:control`` (pub/sub): one JSON announcement per change, e.g.
  ``{"event":"subscribe","connectionId":"L0SM9cOFvHcCIhw=","domainName":"...","stage":"Prod",
  "mode":"batch","windowMs":250,"symbols":["005930"],"topics":[]}``; ``event`` is ``subscribe``,
  ``unsubscribe`` or ``disconnect``; ``mode`` is null when the request did not choose one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

import redis

from kstock import cache, keys
from kstock.logs import get_logger
from kstock.realtime import registry

log = get_logger("kstock.realtime.demand")

# HINCRBY -1 per symbol, and HDEL what fell to zero or below (never leave negative demand).
_DECREMENT = """
for i = 1, #ARGV do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return #ARGV
"""


def _client(client: redis.Redis | None) -> redis.Redis:
    return client if client is not None else cache.client()


def announce(
    event: str,
    connection_id: str,
    *,
    symbols: Iterable[str] = (),
    topics: Iterable[str] = (),
    added: Iterable[str] = (),
    removed: Iterable[str] = (),
    domain_name: str | None = None,
    stage: str | None = None,
    mode: str | None = None,
    window_ms: int | None = None,
    client: redis.Redis | None = None,
) -> None:
    """Count the really added / removed symbols and publish the announcement, in one round trip."""
    r = _client(client)
    message: dict[str, Any] = {
        "event": event,
        "connectionId": connection_id,
        "domainName": domain_name,
        "stage": stage,
        "mode": mode,
        "windowMs": window_ms,
        "symbols": list(symbols),
        "topics": list(topics),
    }
    pipe = r.pipeline(transaction=False)
    for symbol in added:
        pipe.hincrby(keys.DEMAND, symbol, 1)
    gone = list(removed)
    if gone:
        pipe.eval(_DECREMENT, 1, keys.DEMAND, *gone)
    pipe.publish(keys.CONTROL_CHANNEL, json.dumps(message, separators=(",", ":")))
    pipe.execute()


def counts(client: redis.Redis | None = None) -> dict[str, int]:
    """Subscriptions per symbol."""
    raw = cast(dict[str, str], _client(client).hgetall(keys.DEMAND))  # a sync client: no awaitable
    return {symbol: int(n) for symbol, n in raw.items()}


# -- rebuilt from the registry, the source of truth (issue 17, finding 1) ----------------------------


def registered() -> dict[str, int]:
    """Subscriptions per symbol as the connection registry holds them."""
    return {symbol: len(connections) for symbol, connections in registry.live_subscriptions().items()}


def distinct_users() -> dict[str, int]:
    """Distinct users per symbol (what KIS slots should be shared by, not raw subscriptions)."""
    return {symbol: len(set(connections.values())) for symbol, connections in registry.live_subscriptions().items()}


def rebuild(client: redis.Redis | None = None) -> dict[str, int]:
    """Replace ``ws:demand`` with the registry's counts (after Redis came back empty); returns them.

    Changes announced while the registry is read may be off by one until the next reconcile."""
    counted = registered()
    pipe = _client(client).pipeline(transaction=True)
    pipe.delete(keys.DEMAND)
    if counted:
        pipe.hset(keys.DEMAND, mapping=counted)
    pipe.execute()
    return counted


def reconcile(client: redis.Redis | None = None) -> dict[str, tuple[int, int]]:
    """Compare ``ws:demand`` with the registry and repair the symbols that drifted.

    Returns ``symbol -> (counted in Redis, registered)`` of what was repaired (empty: no drift), and
    logs it. Only drifted symbols are written, so changes to the others are never overwritten."""
    r = _client(client)
    truth = registered()
    counted = counts(r)
    drift = {
        symbol: (counted.get(symbol, 0), truth.get(symbol, 0))
        for symbol in set(counted) | set(truth)
        if counted.get(symbol, 0) != truth.get(symbol, 0)
    }
    if drift:
        pipe = r.pipeline(transaction=True)
        for symbol, (_, should) in drift.items():
            if should > 0:
                pipe.hset(keys.DEMAND, symbol, str(should))
            else:
                pipe.hdel(keys.DEMAND, symbol)
        pipe.execute()
        log.warning("demand drift repaired", extra={"drift": {s: list(v) for s, v in sorted(drift.items())}})
    return drift
