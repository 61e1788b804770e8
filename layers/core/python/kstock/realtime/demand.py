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
from typing import Any

import redis

from kstock import cache, keys

# HINCRBY -1 per symbol, and HDEL what fell to zero or below (never leave negative demand).
_DECREMENT = """
for i = 1, #ARGV do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return #ARGV
"""


def _client(client: redis.Redis | None) -> redis.Redis:
    return client if client is not None else cache.client()


def announce(event: str, connection_id: str, *, symbols: Iterable[str] = (), topics: Iterable[str] = (),
             added: Iterable[str] = (), removed: Iterable[str] = (), domain_name: str | None = None,
             stage: str | None = None, mode: str | None = None, window_ms: int | None = None,
             client: redis.Redis | None = None) -> None:
    """Count the really added / removed symbols and publish the announcement, in one round trip."""
    r = _client(client)
    message: dict[str, Any] = {"event": event, "connectionId": connection_id, "domainName": domain_name,
                               "stage": stage, "mode": mode, "windowMs": window_ms, "symbols": list(symbols),
                               "topics": list(topics)}
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
    return {symbol: int(n) for symbol, n in _client(client).hgetall(keys.DEMAND).items()}
