"""Order books to their subscribers, each (connection, symbol) paced to at most N books a second.

The book of a liquid symbol changes on nearly every trade (the simulator sends one every 50 ms, KIS
several a second), and every book sent is an ``@connections`` call. So a connection gets a symbol's
book at most ``WS_ORDERBOOK_MAX_PER_SECOND`` times a second: a book that comes sooner than 1/N after
the last one sent is held, replacing the one held before it (only the newest book matters), and sent
when its turn comes.

The pace is kept on the books' own ``timestamp`` (KIS's second refined by the arrival,
:func:`kstock.kis.connection.arrival_stamped`), so a client can check the promise itself: two books of
one symbol on one connection are at least 1/N apart in ``timestamp``. A held book sent at its turn
carries the turn as its timestamp: nothing newer had come by then, so that was still the book.

Book subscribers are indexed here, apart from the trade index (:mod:`.index`): a book has no delivery
modes, no batch and no sleepers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kstock.market.kistime import iso_utc
from kstock_streamer.fanout.connection import Connection

log = logging.getLogger("kstock_streamer.fanout.books")

Deliver = Callable[[Connection, bytes], None]
CallLater = Callable[[float, Callable[[], None]], Any]


class _Pace:
    """One connection's pace on one symbol: the last timestamp sent and the book waiting its turn."""

    __slots__ = ("held", "last_ms", "timer")

    def __init__(self) -> None:
        self.last_ms: int | None = None
        self.held: tuple[str, int] | None = None  # (book JSON, its timestamp in ms)
        self.timer: Any = None  # a loop TimerHandle while a book is held


def _millis(text: str) -> int | None:
    """The ``timestamp`` of a book message in ms since the epoch; None when it has none."""
    try:
        stamp = json.loads(text)["timestamp"]
        return round(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def _restamped(text: str, millis: int) -> bytes:
    message = json.loads(text)
    message["timestamp"] = iso_utc(datetime.fromtimestamp(millis / 1000, UTC))
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


class BookFanout:
    def __init__(
        self,
        max_per_second: float,
        deliver: Deliver,
        *,
        clock: Callable[[], float] = time.time,
        call_later: CallLater | None = None,
    ) -> None:
        """``deliver(conn, payload)`` queues one message for ``conn``; ``clock`` is the wall clock the
        books are stamped with; ``call_later(delay, fn)`` defaults to the running loop's."""
        self.interval_ms = math.ceil(1000 / max_per_second)  # rounded up: never more than N a second
        self._deliver = deliver
        self._clock = clock
        self._call_later = call_later
        self._by_symbol: dict[str, dict[str, Connection]] = {}
        self._books_of: dict[str, set[str]] = {}  # connection id -> its book symbols
        self._paces: dict[tuple[str, str], _Pace] = {}  # (connection id, symbol)
        self.sent = 0  # books queued to connections
        self.skipped = 0  # books replaced by a newer one while held

    # -- subscriptions -----------------------------------------------------------------------------

    def subscribe(self, conn: Connection, symbols: list[str]) -> None:
        for symbol in symbols:
            self._by_symbol.setdefault(symbol, {})[conn.id] = conn
            self._books_of.setdefault(conn.id, set()).add(symbol)
            self._paces.setdefault((conn.id, symbol), _Pace())

    def unsubscribe(self, conn: Connection, symbols: list[str]) -> None:
        for symbol in symbols:
            subs = self._by_symbol.get(symbol)
            if subs is not None and subs.get(conn.id) is conn:
                del subs[conn.id]
                if not subs:
                    del self._by_symbol[symbol]
            held = self._books_of.get(conn.id)
            if held is not None:
                held.discard(symbol)
                if not held:
                    del self._books_of[conn.id]
            pace = self._paces.pop((conn.id, symbol), None)
            if pace is not None and pace.timer is not None:
                pace.timer.cancel()

    def remove(self, conn: Connection) -> None:
        self.unsubscribe(conn, sorted(self._books_of.get(conn.id, ())))

    def clear(self) -> None:
        """Forget every subscription (a rebuild follows); held books are dropped."""
        for pace in self._paces.values():
            if pace.timer is not None:
                pace.timer.cancel()
        self._by_symbol.clear()
        self._books_of.clear()
        self._paces.clear()

    def subscribers(self, symbol: str) -> list[str]:
        return list(self._by_symbol.get(symbol, ()))

    def books_of(self, connection_id: str) -> set[str]:
        return set(self._books_of.get(connection_id, ()))

    def symbol_count(self) -> int:
        return len(self._by_symbol)

    def subscription_count(self) -> int:
        return sum(len(subs) for subs in self._by_symbol.values())

    def held(self) -> int:
        return sum(1 for pace in self._paces.values() if pace.held is not None)

    # -- books -------------------------------------------------------------------------------------

    def on_book(self, symbol: str, text: str) -> None:
        """A book published on ``stock:orderbook:{symbol}``: to each subscriber now, or held."""
        subs = self._by_symbol.get(symbol)
        if not subs:
            return
        stamp = _millis(text)
        if stamp is None:
            log.warning("order book of %s without a timestamp; not delivered", symbol)
            return
        payload = text.encode()
        for conn in list(subs.values()):
            pace = self._paces.get((conn.id, symbol))
            if pace is not None:
                self._offer(conn, symbol, pace, (text, stamp), payload)

    def _offer(self, conn: Connection, symbol: str, pace: _Pace, book: tuple[str, int], payload: bytes) -> None:
        stamp = book[1]
        if pace.last_ms is None or stamp >= pace.last_ms + self.interval_ms:
            if pace.timer is not None:  # the held one is older: this one replaces it, now
                pace.timer.cancel()
                pace.timer = None
                self.skipped += 1
            pace.held, pace.last_ms = None, stamp
            self._send(conn, payload)
            return
        if pace.held is not None:
            self.skipped += 1
        pace.held = book
        if pace.timer is None:
            due = (pace.last_ms + self.interval_ms) / 1000 - self._clock()
            delay = min(max(0.0, due), self.interval_ms / 1000)  # a clock far off never holds a book longer
            pace.timer = self._later(delay, lambda: self._release(conn, symbol))

    def _release(self, conn: Connection, symbol: str) -> None:
        """The held book's turn: sent, stamped no earlier than the turn."""
        pace = self._paces.get((conn.id, symbol))
        if pace is None or pace.held is None or conn.gone:
            return
        pace.timer = None
        text, stamp = pace.held
        pace.held = None
        turn = max(stamp, (pace.last_ms or stamp) + self.interval_ms)
        pace.last_ms = turn
        self._send(conn, text.encode() if turn == stamp else _restamped(text, turn))

    def _send(self, conn: Connection, payload: bytes) -> None:
        self.sent += 1
        self._deliver(conn, payload)

    def _later(self, delay: float, fn: Callable[[], None]) -> Any:
        if self._call_later is not None:
            return self._call_later(delay, fn)
        return asyncio.get_running_loop().call_later(delay, fn)
