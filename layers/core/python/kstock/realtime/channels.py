"""What a live subscription is for: a symbol's trades (``trade``, the default) or its order book
(``orderbook``, issue 18).

A book is demand of its own: it takes a KIS slot of its own (``H0STASP0``) and reaches the streamer's
planner, weighed with the trade demand, under its own name, :func:`book_demand` (``BOOK#{symbol}``), in
the same demand hashes and the same connection registry (``sk=BOOK#{symbol}`` beside ``SYM#{symbol}``).
"""

from __future__ import annotations

from typing import Literal

Channel = Literal["trade", "orderbook"]
TRADE: Channel = "trade"
ORDERBOOK: Channel = "orderbook"
CHANNELS: tuple[Channel, ...] = (TRADE, ORDERBOOK)

BOOK_PREFIX = "BOOK#"


def book_demand(symbol: str) -> str:
    """The demand name of a symbol's order book (a field of ``ws:demand`` and its kin)."""
    return f"{BOOK_PREFIX}{symbol}"


def book_symbol(name: str) -> str | None:
    """The symbol of a book's demand name; None for a trade demand name (a bare symbol)."""
    return name[len(BOOK_PREFIX) :] if name.startswith(BOOK_PREFIX) else None
