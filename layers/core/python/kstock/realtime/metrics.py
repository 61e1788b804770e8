"""``GET /ws/metrics`` (seed 001 section 8): the live-price path at a glance.

Read from Redis: the streamer's status (``streamer:status``, refreshed every second, expiring
after 10 s, so a stopped streamer shows ``streamerRunning: false``) and the subscription counts
per symbol (``ws:demand``). The fan-out's counters are since the streamer started.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from redis.exceptions import RedisError

from kstock import cache, keys
from kstock.errors import StreamUnavailable
from kstock.realtime.kis_sessions import key_sessions, slots_over_keys
from kstock.schemas import CamelModel


class PerMode(CamelModel):
    tick: int = 0
    batch: int = 0


class WatchlistEntry(CamelModel):
    """A symbol the watchlist job asked the streamer to stream, and why."""

    symbol: str
    streamed: bool
    rank: int | None = None
    traded_value: int | None = None
    reasons: list[str] = []


class OrderBookMetrics(CamelModel):
    """Order books (issue 18): what the streamer published and what the fan-out's pace let through."""

    published: int = 0  # books the streamer published from KIS
    symbols: int = 0  # symbols whose book some connection subscribes to
    subscriptions: int = 0  # (connection, symbol) book subscriptions
    sent: int = 0  # books queued to clients
    skipped: int = 0  # books a newer one replaced while they waited for their turn
    held: int = 0  # books waiting for their turn now


class WsMetrics(CamelModel):
    streamer_running: bool
    connections: int
    connections_by_mode: PerMode
    subscriptions: int
    subscriptions_per_symbol: dict[str, int]
    topic_subscribers: dict[str, int]
    messages: PerMode  # ticks delivered to clients, per delivery mode
    calls: PerMode  # @connections calls made, per delivery mode
    one_by_one: PerMode  # calls one message per tick would have made (what `batch` saves)
    theme_updates: int
    gone: int  # 410 answers: clients that left without $disconnect reaching us
    throttled: int  # 429 / LimitExceededException answers
    failed: int
    dropped: int  # tick messages dropped from the queue of a slow or throttled client
    last_broadcast_time: str | None
    kis_slots_used: int | None
    kis_slots_limit: int | None
    streamed_symbols: list[str]
    polled_symbols: list[str]
    watchlist: list[WatchlistEntry] = []
    signals: int = 0  # live buy signals delivered to the `signals` topic
    order_books: OrderBookMetrics = OrderBookMetrics()


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mode(value: Any) -> PerMode:
    return PerMode(**{k: int(v) for k, v in (value or {}).items() if k in ("tick", "batch")})


def collect() -> WsMetrics:
    try:
        client = cache.client()
        # redis-py types commands as ``Awaitable | Any`` (sync and async share signatures)
        raw = cast(str | None, client.get(keys.STREAMER_STATUS))
        demand = {s: int(n) for s, n in cast(dict[str, str], client.hgetall(keys.DEMAND)).items()}
        sessions = key_sessions(client)
    except RedisError as exc:
        raise StreamUnavailable("metrics are unavailable: Redis is not answering") from exc
    status: dict[str, Any] = json.loads(raw) if raw else {}
    slots = slots_over_keys([status, *sessions])
    fanout: dict[str, Any] = status.get("fanout") or {}
    return WsMetrics(
        streamer_running=bool(status),
        connections=int(fanout.get("connections", 0)),
        connections_by_mode=_mode(fanout.get("connectionsByMode")),
        subscriptions=sum(demand.values()),
        subscriptions_per_symbol=dict(sorted(demand.items(), key=lambda kv: (-kv[1], kv[0]))),
        topic_subscribers={str(k): int(v) for k, v in (fanout.get("topicSubscribers") or {}).items()},
        messages=_mode(fanout.get("messages")),
        calls=_mode(fanout.get("calls")),
        one_by_one=_mode(fanout.get("oneByOne")),
        theme_updates=int(fanout.get("themeUpdates", 0)),
        gone=int(fanout.get("gone", 0)),
        throttled=int(fanout.get("throttled", 0)),
        failed=int(fanout.get("failed", 0)),
        dropped=int(fanout.get("dropped", 0)),
        last_broadcast_time=_iso(fanout.get("lastBroadcastAt")),
        kis_slots_used=slots.get("slotsUsed"),
        kis_slots_limit=slots.get("slotsLimit"),
        streamed_symbols=list(slots.get("streamed") or []),
        polled_symbols=list(slots.get("polled") or []),
        watchlist=[WatchlistEntry.model_validate(w) for w in status.get("watchlist") or []],
        signals=int(fanout.get("signals", 0)),
        order_books=_books(status),
    )


def _books(status: dict[str, Any]) -> OrderBookMetrics:
    books: dict[str, Any] = (status.get("fanout") or {}).get("books") or {}
    return OrderBookMetrics(
        published=int(status.get("booksPublished", 0)),
        **{name: int(books.get(name, 0)) for name in ("symbols", "subscriptions", "sent", "skipped", "held")},
    )
