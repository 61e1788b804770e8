"""The index rebuilt from the connection registry (on start, and after a reconnect to Redis).

The symbols come from the registry itself (:func:`registered_symbols`, a Scan of the owner items), never
from ``ws:demand``: Redis may have come back empty (issue 17, finding 1). Then Queries of the ``SYM#``
partition of each symbol and of each topic, then the connections' META items (BatchGet).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from kstock.aws import connections_endpoint
from kstock.realtime import registry, session
from kstock.realtime.channels import book_symbol
from kstock_streamer.fanout.books import BookFanout
from kstock_streamer.fanout.connection import Connection
from kstock_streamer.fanout.index import ConnectionIndex

Snapshot = tuple[dict[str, registry.ConnectionInfo], dict[str, set[str]], dict[str, set[str]]]


def registered_symbols() -> list[str]:
    """Every symbol a live connection subscribes to, as the registry lists it (and every book, by its
    ``BOOK#{symbol}`` name: :func:`refill` puts those in the book index)."""
    return sorted(registry.live_subscriptions())


def load_index(
    symbols: Iterable[str],
    topics: Iterable[str] = session.TOPICS,
    workers: int = 8,
    owns: Callable[[str], bool] | None = None,
) -> Snapshot:
    """Who wants what, from the registry: Queries of the given symbol and topic partitions, then
    the connections' META items (BatchGet). Returns (connections, symbol -> ids, topic -> ids).
    ``owns(connection_id)``: only those (one of K fan-out workers, :mod:`.partition`)."""
    symbols, topics = list(symbols), list(topics)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        by_symbol = dict(zip(symbols, pool.map(registry.subscribers_of, symbols), strict=True))
        by_topic = dict(zip(topics, pool.map(registry.topic_subscribers, topics), strict=True))
    wanted = {cid for ids in (*by_symbol.values(), *by_topic.values()) for cid in ids}
    if owns is not None:
        wanted = {cid for cid in wanted if owns(cid)}
    infos = registry.get_many(wanted) if wanted else {}
    return (
        infos,
        {s: {c for c in ids if c in infos} for s, ids in by_symbol.items()},
        {t: {c for c in ids if c in infos} for t, ids in by_topic.items()},
    )


def refill(
    index: ConnectionIndex,
    snapshot: Snapshot,
    window: Callable[[int | None], float],
    books: BookFanout | None = None,
) -> list[Connection]:
    """Replace what ``index`` (and ``books``) hold with ``snapshot``, keeping the Connection objects (their
    queues, back-off) of those still there. Returns the connections that are not: gone while we were away."""
    infos, by_symbol, by_topic = snapshot
    old = index.clear()
    if books is not None:
        books.clear()
    for cid, info in infos.items():
        if not info.domain_name or not info.stage:
            continue
        conn = old.pop(cid, None) or Connection(
            cid, connections_endpoint(info.domain_name, info.stage), info.mode, window(info.window_ms)
        )
        conn.mode, conn.window = info.mode, window(info.window_ms)
        conn.symbols.clear()
        conn.sent.clear()
        conn.topics.clear()
        index.add(conn)
    for name, ids in by_symbol.items():
        book = book_symbol(name)
        for cid in ids:
            if (subscriber := index.get(cid)) is None:
                continue
            if book is None:
                index.subscribe(subscriber, (name,))
            elif books is not None:
                books.subscribe(subscriber, [book])
    for topic, ids in by_topic.items():
        for cid in ids:
            if (subscriber := index.get(cid)) is not None:
                index.subscribe_topics(subscriber, (topic,))
    return list(old.values())
