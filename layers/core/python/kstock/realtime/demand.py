"""Demand for live prices: the counts the streamer plans KIS slots with, and the announcements
its fan-out keeps its index current from.

* ``ws:demand`` (hash symbol -> subscriptions): changed only by subscriptions the registry
  reports as really added or removed, so retries never count twice; a count that reaches 0 is
  deleted (a symbol nobody wants leaves the hash).
* ``ws:demand:users`` (hash symbol -> distinct users) and ``ws:demand:by-user`` (hash
  ``{symbol}|{user}`` -> that user's subscriptions of it): changed in the same round trip, so KIS
  slots are shared by users, not by sockets (issue 17, finding 5). A subscription without a user
  counts as a user of its own (``c:{connection id}``).
* ``ws:control`` (pub/sub): one JSON announcement per change, e.g.
  ``{"event":"subscribe","connectionId":"L0SM9cOFvHcCIhw=","domainName":"...","stage":"Prod",
  "mode":"batch","windowMs":250,"symbols":["005930"],"topics":[],"books":["005930"]}``; ``event`` is
  ``subscribe``, ``unsubscribe`` or ``disconnect``; ``mode`` is null when the request did not choose one;
  ``books`` are the symbols whose order book the change is about.

A book subscription is demand of its own, counted in the same hashes under its
:func:`~kstock.realtime.channels.book_demand` name (``BOOK#{symbol}``): the planner weighs it with the
trade demand, and it costs a KIS slot of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import redis

from kstock import cache, keys
from kstock.logs import get_logger
from kstock.realtime import registry
from kstock.realtime.channels import book_demand

log = get_logger("kstock.realtime.demand")

# HINCRBY -1 per symbol, and HDEL what fell to zero or below (never leave negative demand).
_DECREMENT = """
for i = 1, #ARGV do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return #ARGV
"""

# One more subscription of a symbol by a user (ARGV[1]): a user's first one counts as a user.
_ADD_USER = """
for i = 2, #ARGV do
  if redis.call('HINCRBY', KEYS[1], ARGV[i] .. '|' .. ARGV[1], 1) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
  end
end
return #ARGV - 1
"""

# One fewer: a user's last one leaves the users count; one never counted changes nothing.
_REMOVE_USER = """
for i = 2, #ARGV do
  local held = KEYS[1]
  local f = ARGV[i] .. '|' .. ARGV[1]
  local n = tonumber(redis.call('HGET', held, f) or '0')
  if n > 1 then
    redis.call('HINCRBY', held, f, -1)
  elseif n == 1 then
    redis.call('HDEL', held, f)
    if redis.call('HINCRBY', KEYS[2], ARGV[i], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[i]) end
  end
end
return #ARGV - 1
"""
SEPARATOR = "|"


def _client(client: redis.Redis | None) -> redis.Redis:
    return client if client is not None else cache.client()


def user_of(user_id: int | None, connection_id: str) -> str:
    """Who a subscription belongs to when slots are shared: its user, else the connection alone."""
    return str(user_id) if user_id is not None else f"c:{connection_id}"


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
    user_id: int | None = None,
    client: redis.Redis | None = None,
    books: Iterable[str] = (),
    added_books: Iterable[str] = (),
    removed_books: Iterable[str] = (),
) -> None:
    """Count the really added / removed symbols and books (per subscription and per user of
    ``user_id``) and publish the announcement, in one round trip."""
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
        "books": list(books),
    }
    who = user_of(user_id, connection_id)
    pipe = r.pipeline(transaction=False)
    new = [*added, *map(book_demand, added_books)]
    for symbol in new:
        pipe.hincrby(keys.DEMAND, symbol, 1)
    if new:
        pipe.eval(_ADD_USER, 2, keys.DEMAND_BY_USER, keys.DEMAND_USERS, who, *new)
    gone = [*removed, *map(book_demand, removed_books)]
    if gone:
        pipe.eval(_DECREMENT, 1, keys.DEMAND, *gone)
        pipe.eval(_REMOVE_USER, 2, keys.DEMAND_BY_USER, keys.DEMAND_USERS, who, *gone)
    pipe.publish(keys.CONTROL_CHANNEL, json.dumps(message, separators=(",", ":")))
    pipe.execute()


def _hash(r: redis.Redis, key: str) -> dict[str, int]:
    raw = cast(dict[str, str], r.hgetall(key))  # a sync client: no awaitable
    return {name: int(n) for name, n in raw.items()}


def counts(client: redis.Redis | None = None) -> dict[str, int]:
    """Subscriptions per symbol."""
    return _hash(_client(client), keys.DEMAND)


def users(client: redis.Redis | None = None) -> dict[str, int]:
    """Distinct users per symbol, as the WebSocket handlers counted them."""
    return _hash(_client(client), keys.DEMAND_USERS)


# -- rebuilt from the registry, the source of truth (issue 17, finding 1) ----------------------------


@dataclass(frozen=True)
class Demand:
    """The three demand hashes: as Redis holds them, or as the connection registry says they should be."""

    counts: dict[str, int] = field(default_factory=dict)  # ws:demand
    users: dict[str, int] = field(default_factory=dict)  # ws:demand:users
    by_user: dict[str, int] = field(default_factory=dict)  # ws:demand:by-user

    def hashes(self) -> dict[str, dict[str, int]]:
        return {keys.DEMAND: self.counts, keys.DEMAND_USERS: self.users, keys.DEMAND_BY_USER: self.by_user}


HASHES = (keys.DEMAND, keys.DEMAND_USERS, keys.DEMAND_BY_USER)


def from_hashes(raw: dict[str, dict[str, str]]) -> Demand:
    """A :class:`Demand` from ``HGETALL`` answers keyed by hash name (sync or async clients alike)."""

    def ints(key: str) -> dict[str, int]:
        return {name: int(n) for name, n in (raw.get(key) or {}).items()}

    return Demand(ints(keys.DEMAND), ints(keys.DEMAND_USERS), ints(keys.DEMAND_BY_USER))


def from_subscriptions(live: dict[str, dict[str, int | None]]) -> Demand:
    """What demand should be, given ``symbol -> {connection_id: user_id}`` (the registry's answer)."""
    by_user: dict[str, int] = {}
    for symbol, connections in live.items():
        for connection_id, user_id in connections.items():
            slot = f"{symbol}{SEPARATOR}{user_of(user_id, connection_id)}"
            by_user[slot] = by_user.get(slot, 0) + 1
    per_user: dict[str, int] = {}
    for slot in by_user:
        symbol = slot.split(SEPARATOR, 1)[0]
        per_user[symbol] = per_user.get(symbol, 0) + 1
    return Demand({s: len(c) for s, c in live.items() if c}, per_user, by_user)


def registered_demand() -> Demand:
    """Demand as the connection registry holds it (a Scan: rebuilds and the reconciler only)."""
    return from_subscriptions(registry.live_subscriptions())


def registered() -> dict[str, int]:
    """Subscriptions per symbol as the connection registry holds them."""
    return registered_demand().counts


def distinct_users() -> dict[str, int]:
    """Distinct users per symbol (what KIS slots should be shared by, not raw subscriptions)."""
    return registered_demand().users


Change = tuple[int, int]  # (held in Redis, registered)


@dataclass(frozen=True)
class Drift:
    """Where Redis and the registry disagree, per hash: ``name -> (held in Redis, registered)``."""

    subscriptions: dict[str, Change] = field(default_factory=dict)
    users: dict[str, Change] = field(default_factory=dict)
    by_user: dict[str, Change] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.subscriptions or self.users or self.by_user)

    def by_hash(self) -> dict[str, dict[str, Change]]:
        return {keys.DEMAND: self.subscriptions, keys.DEMAND_USERS: self.users, keys.DEMAND_BY_USER: self.by_user}

    def figures(self) -> dict[str, object]:
        """For a log line and the streamer's status: how many names drifted, and the symbols' counts."""
        return {
            "symbols": len(self.subscriptions),
            "userCounts": len(self.users),
            "userSlots": len(self.by_user),
            "subscriptions": {s: list(v) for s, v in sorted(self.subscriptions.items())},
        }


def _differences(held: dict[str, int], truth: dict[str, int]) -> dict[str, Change]:
    return {
        name: (held.get(name, 0), truth.get(name, 0))
        for name in set(held) | set(truth)
        if held.get(name, 0) != truth.get(name, 0)
    }


def compare(held: Demand, truth: Demand) -> Drift:
    return Drift(
        _differences(held.counts, truth.counts),
        _differences(held.users, truth.users),
        _differences(held.by_user, truth.by_user),
    )


def steady(drift: Drift, before: Demand, after: Demand) -> Drift:
    """Only the drift of names whose held value did not change between ``before`` (read before the
    registry) and ``after`` (read after it): a name announced meanwhile is left to the next round."""

    def keep(changes: dict[str, Change], old: dict[str, int], new: dict[str, int]) -> dict[str, Change]:
        return {name: change for name, change in changes.items() if old.get(name, 0) == new.get(name, 0)}

    return Drift(
        keep(drift.subscriptions, before.counts, after.counts),
        keep(drift.users, before.users, after.users),
        keep(drift.by_user, before.by_user, after.by_user),
    )


if TYPE_CHECKING:  # the streamer queues the same writes on its asyncio client's pipeline
    import redis.asyncio

    Pipeline = redis.client.Pipeline | redis.asyncio.client.Pipeline


def queue_repair(pipe: Pipeline, drift: Drift) -> None:
    """Write only the drifted names (changes to the others made meanwhile are never overwritten)."""
    for key, changes in drift.by_hash().items():
        for name, (_, should) in changes.items():
            if should > 0:
                pipe.hset(key, name, str(should))
            else:
                pipe.hdel(key, name)


def queue_replace(pipe: Pipeline, truth: Demand) -> None:
    """Replace every demand hash with ``truth`` (after Redis came back empty)."""
    for key, values in truth.hashes().items():
        pipe.delete(key)
        if values:
            pipe.hset(key, mapping={name: str(n) for name, n in values.items()})


def held(client: redis.Redis | None = None) -> Demand:
    r = _client(client)
    return Demand(_hash(r, keys.DEMAND), _hash(r, keys.DEMAND_USERS), _hash(r, keys.DEMAND_BY_USER))


def rebuild(client: redis.Redis | None = None) -> dict[str, int]:
    """Replace the demand hashes with the registry's (after Redis came back empty); returns the counts.

    Changes announced while the registry is read may be off by one until the next reconcile."""
    truth = registered_demand()
    pipe = _client(client).pipeline(transaction=True)
    queue_replace(pipe, truth)
    pipe.execute()
    return truth.counts


def reconcile(client: redis.Redis | None = None) -> Drift:
    """Compare the demand hashes with the registry and repair the names that drifted.

    Returns what was repaired (falsy: no drift), and logs it once."""
    r = _client(client)
    truth = registered_demand()
    drift = compare(held(r), truth)
    if drift:
        pipe = r.pipeline(transaction=True)
        queue_repair(pipe, drift)
        pipe.execute()
        log.warning("demand drift repaired", extra={"drift": drift.figures()})
    return drift
