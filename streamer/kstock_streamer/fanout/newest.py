"""The newest tick of each symbol, numbered, and what of it a batch connection has not been sent.

A tick does not visit its batch subscribers (a hundred per symbol at scale, thousands of times a
second): it becomes its symbol's newest, with a number; a connection sends, when its window comes,
what is newer than the numbers it last sent (``Connection.sent``).
"""

from __future__ import annotations

from collections.abc import Iterator

from kstock_streamer.fanout.connection import Connection

News = tuple[str, int, str]  # (symbol, number, tick JSON)


class NewestTicks:
    def __init__(self) -> None:
        self._latest: dict[str, tuple[int, str]] = {}
        self._count = 0

    def record(self, symbol: str, text: str) -> None:
        self._count += 1
        self._latest[symbol] = (self._count, text)

    def number(self, symbol: str) -> int:
        """Number of the symbol's newest tick; 0 before its first."""
        known = self._latest.get(symbol)
        return known[0] if known is not None else 0

    def news(self, conn: Connection) -> Iterator[News]:
        """Each of its symbols' newest tick that ``conn`` has not been sent."""
        latest, sent = self._latest, conn.sent
        for symbol in conn.symbols:
            known = latest.get(symbol)
            if known is not None and known[0] > sent.get(symbol, 0):
                yield symbol, known[0], known[1]

    def has_news(self, conn: Connection) -> bool:
        return next(self.news(conn), None) is not None
