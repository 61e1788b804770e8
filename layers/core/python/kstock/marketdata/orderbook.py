"""The order book (호가) of a company: the streamer's latest from Redis, else a KIS REST snapshot.

``GET /companies/{companyId}/orderbook`` reads ``orderbook:{symbol}`` first: the streamer keeps it
while some client subscribes to the symbol's book (it holds a KIS slot, ``H0STASP0``). Otherwise
one ``inquire-asking-price-exp-ccn`` call answers, cached under the same key for the streamer's
price TTL so a page that refreshes does not spend the app key's REST budget on every request.

The stored JSON is the contract's ``orderbook`` message (docs/architecture.md) plus ``source``:
``ws`` (the realtime stream) or ``poll`` (a REST snapshot), as for ticks.

When neither has a book (nothing streamed and KIS not answering) the answer says so with ``source``
null and no levels, as the company detail answers a price it cannot know with null: the book is
missing for now, the request was fine.
"""

from __future__ import annotations

import json
from typing import Any, Literal, cast

from pydantic import Field
from redis.exceptions import RedisError

from kstock import cache, keys
from kstock.config import get_settings
from kstock.errors import NotFound
from kstock.kis.errors import KisError, KisNotFound
from kstock.kis.models import OrderBook
from kstock.logs import get_logger
from kstock.market.codes import InstrumentKind, classify
from kstock.schemas import CamelModel

Source = Literal["ws", "poll"]

log = get_logger("kstock.marketdata.orderbook")


def book_message(book: OrderBook, source: Source) -> dict[str, object]:
    """The contract's ``orderbook`` message with where it came from."""
    return {**book.to_message(), "source": source}


def book_json(book: OrderBook, source: Source) -> str:
    return json.dumps(book_message(book, source), separators=(",", ":"))


class OrderBookAnswer(CamelModel):
    """One order book: ten levels a side at most (a side can be shorter at the day's price limit)."""

    company_id: int
    symbol: str
    asks: list[list[int]] = Field(description="[price, quantity] pairs, best (lowest) first.")
    bids: list[list[int]] = Field(description="[price, quantity] pairs, best (highest) first.")
    total_ask_qty: int | None = None
    total_bid_qty: int | None = None
    timestamp: str | None = Field(None, description="When the book was current (UTC ISO-8601).")
    source: Source | None = Field(
        None, description="ws: the realtime stream; poll: a KIS REST snapshot; null: no book right now (KIS down)."
    )


def _answer(company_id: int, message: dict[str, Any]) -> OrderBookAnswer:
    return OrderBookAnswer(
        company_id=company_id,
        symbol=message["symbol"],
        asks=message["asks"],
        bids=message["bids"],
        total_ask_qty=message["totalAskQty"],
        total_bid_qty=message["totalBidQty"],
        timestamp=message["timestamp"],
        source=message.get("source", "ws"),
    )


def _cached(symbol: str) -> dict[str, Any] | None:
    try:
        raw = cast(str | None, cache.client().get(keys.latest_orderbook(symbol)))
    except RedisError:
        return None  # the snapshot answers instead
    return json.loads(raw) if raw else None


def _snapshot(symbol: str) -> dict[str, Any] | None:
    """The REST snapshot, cached; None when KIS cannot answer now."""
    from kstock.kis.rest import shared_client  # the REST client only when Redis has no book

    try:
        book = shared_client().asking_price(symbol)
    except KisNotFound:
        raise NotFound(f"KIS has no order book for {symbol}") from None
    except KisError as exc:
        log.warning("order book snapshot failed", extra={"symbol": symbol, "error": str(exc)})
        return None
    text = book_json(book, "poll")
    try:
        cache.client().set(keys.latest_orderbook(symbol), text, ex=get_settings().streamer_price_ttl)
    except RedisError:
        pass  # answered anyway; the next request asks KIS again
    return cast(dict[str, Any], json.loads(text))


def company_book(company_id: int, symbol: str) -> OrderBookAnswer:
    """The latest book of a company's ``symbol``; ``NOT_FOUND`` for an instrument KIS keeps no stock
    book for (ELW); an answer without levels (``source`` null) when neither Redis nor KIS has one."""
    if classify(symbol).kind is InstrumentKind.ELW:
        raise NotFound(f"{symbol} is an ELW: kstock streams order books of stocks, ETFs and ETNs only")
    message = _cached(symbol) or _snapshot(symbol)
    if message is None:
        return OrderBookAnswer(company_id=company_id, symbol=symbol, asks=[], bids=[])
    return _answer(company_id, message)
