"""Who gets what: the fan-out's connections and their subscriptions, in one place.

Five maps answer the hot questions without a scan: every subscriber of a symbol, those in tick
mode, those in batch mode, the batch ones asleep (nothing new for them last time, so a tick of
the symbol wakes them) and the subscribers of a topic. Every change goes through this class, so
the maps never disagree with each other or with ``Connection.symbols`` / ``Connection.topics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from kstock_streamer.fanout.connection import BATCH, TICK, Connection

Subscribers = Mapping[str, Connection]  # connection id -> connection
_NOBODY: Subscribers = MappingProxyType({})


def _never_seen(symbol: str) -> int:
    return 0


def _add(index: dict[str, dict[str, Connection]], key: str, conn: Connection) -> None:
    index.setdefault(key, {})[conn.id] = conn


def _discard(index: dict[str, dict[str, Connection]], key: str, conn: Connection) -> None:
    subs = index.get(key)
    if subs is not None and subs.pop(conn.id, None) is not None and not subs:
        del index[key]


class ConnectionIndex:
    def __init__(self, seen: Callable[[str], int] = _never_seen) -> None:
        """``seen(symbol)``: number of the symbol's newest tick, not news to a new batch subscriber."""
        self._seen = seen
        self._connections: dict[str, Connection] = {}
        self._by_symbol: dict[str, dict[str, Connection]] = {}  # every subscriber
        self._ticking: dict[str, dict[str, Connection]] = {}  # ... in tick mode
        self._batching: dict[str, dict[str, Connection]] = {}  # ... in batch mode
        self._asleep: dict[str, dict[str, Connection]] = {}  # batch ones waiting for a tick
        self._by_topic: dict[str, dict[str, Connection]] = {}

    # -- connections -------------------------------------------------------------------------------

    @property
    def connections(self) -> Mapping[str, Connection]:
        return self._connections

    def get(self, connection_id: str) -> Connection | None:
        return self._connections.get(connection_id)

    def add(self, conn: Connection) -> None:
        self._connections[conn.id] = conn

    def remove(self, conn: Connection) -> None:
        """Every subscription of ``conn``, then ``conn`` itself (unless another took its id meanwhile)."""
        self.unsubscribe(conn, list(conn.symbols))
        self.unsubscribe_topics(conn, list(conn.topics))
        if self._connections.get(conn.id) is conn:
            del self._connections[conn.id]

    def clear(self) -> dict[str, Connection]:
        """Forget everything (a rebuild follows); returns the connections it held."""
        old = self._connections
        self._connections = {}
        for index in (self._by_symbol, self._ticking, self._batching, self._asleep, self._by_topic):
            index.clear()
        return old

    def modes(self) -> dict[str, int]:
        """Connections per mode."""
        counts = {TICK: 0, BATCH: 0}
        for conn in self._connections.values():
            counts[conn.mode] = counts.get(conn.mode, 0) + 1
        return counts

    def __len__(self) -> int:
        return len(self._connections)

    # -- symbols -----------------------------------------------------------------------------------

    def subscribe(self, conn: Connection, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            conn.symbols.add(symbol)
            _add(self._by_symbol, symbol, conn)
            if conn.mode != BATCH:
                _add(self._ticking, symbol, conn)
                continue
            _add(self._batching, symbol, conn)
            conn.sent.setdefault(symbol, self._seen(symbol))  # what traded before is not news to it
            if conn.idle:
                _add(self._asleep, symbol, conn)

    def unsubscribe(self, conn: Connection, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            conn.symbols.discard(symbol)
            conn.sent.pop(symbol, None)
            for index in (self._by_symbol, self._ticking, self._batching, self._asleep):
                _discard(index, symbol, conn)

    def set_mode(self, conn: Connection, mode: str, window: float) -> None:
        """Switch ``conn`` between tick and batch mode, moving it between the maps."""
        conn.window = window
        if mode == conn.mode:
            return
        symbols = list(conn.symbols)
        self.unsubscribe(conn, symbols)
        conn.mode = mode
        self.subscribe(conn, symbols)

    def route(self, symbol: str) -> tuple[Subscribers | None, Subscribers | None] | None:
        """(tick-mode, batch-mode) subscribers of ``symbol`` (None for none); None when nobody wants it.
        One call per tick on the hot path, instead of three."""
        if symbol not in self._by_symbol:
            return None
        return self._ticking.get(symbol), self._batching.get(symbol)

    def wants(self, symbol: str) -> bool:
        return symbol in self._by_symbol

    def subscribers(self, symbol: str) -> list[str]:
        """Ids of the connections that get ``symbol``'s ticks, whatever their mode."""
        return list(self._by_symbol.get(symbol, ()))

    def ticking(self, symbol: str) -> Subscribers:
        return self._ticking.get(symbol) or _NOBODY

    def batching(self, symbol: str) -> Subscribers:
        return self._batching.get(symbol) or _NOBODY

    @property
    def by_symbol(self) -> Mapping[str, Subscribers]:
        return self._by_symbol

    def symbol_count(self) -> int:
        return len(self._by_symbol)

    def subscription_count(self) -> int:
        return sum(len(subs) for subs in self._by_symbol.values())

    # -- batch connections asleep ------------------------------------------------------------------

    def sleep(self, conn: Connection) -> None:
        """Nothing new for ``conn``: the next tick of one of its symbols wakes it."""
        for symbol in conn.symbols:
            _add(self._asleep, symbol, conn)

    def wake(self, conn: Connection) -> None:
        for symbol in conn.symbols:
            _discard(self._asleep, symbol, conn)

    def take_sleepers(self, symbol: str) -> Subscribers:
        """The connections asleep on ``symbol``, no longer listed as asleep on it."""
        return self._asleep.pop(symbol, None) or _NOBODY

    def asleep_symbols(self) -> list[str]:
        return sorted(self._asleep)

    def is_asleep(self, conn: Connection) -> bool:
        return any(conn.id in self._asleep.get(symbol, ()) for symbol in conn.symbols)

    # -- topics ------------------------------------------------------------------------------------

    def subscribe_topics(self, conn: Connection, topics: Iterable[str]) -> None:
        for topic in topics:
            conn.topics.add(topic)
            _add(self._by_topic, topic, conn)

    def unsubscribe_topics(self, conn: Connection, topics: Iterable[str]) -> None:
        for topic in topics:
            conn.topics.discard(topic)
            _discard(self._by_topic, topic, conn)

    def topic(self, topic: str) -> Subscribers:
        """The subscribers of ``topic`` (``themes``, ``signals``)."""
        return self._by_topic.get(topic) or _NOBODY

    @property
    def by_topic(self) -> Mapping[str, Subscribers]:
        return self._by_topic

    def topic_counts(self) -> dict[str, int]:
        return {topic: len(subs) for topic, subs in self._by_topic.items()}
