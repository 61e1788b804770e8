"""The KIS client's order books against the simulator: the WebSocket session routes H0STASP0 frames to
the book parser (ticks keep flowing beside them) and the REST snapshot reads the same ladder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from support.kis import auth, on_sim, rest_client, run, running_simulator
from support.waiting import Deadline

from kstock.kis.connection import KisWebSocket
from kstock.kis.endpoints import TR_ORDER_BOOK, TR_STOCK_TRADE
from kstock.kis.models import OrderBook, Tick
from kstock_local.kis_sim.ticksize import step_up

SYMBOL = "005930"


def _on_ladder(book: OrderBook) -> None:
    asks, bids = [p for p, _ in book.asks], [p for p, _ in book.bids]
    assert book.symbol == SYMBOL and asks and bids
    assert asks[0] > bids[0], (asks, bids)
    assert all(step_up(lower) == higher for lower, higher in zip(asks, asks[1:], strict=False)), asks
    assert all(step_up(lower) == higher for higher, lower in zip(bids, bids[1:], strict=False)), bids


def test_book_frames_reach_on_books_and_trade_frames_on_ticks():
    books: list[OrderBook] = []
    ticks: list[Tick] = []
    with running_simulator() as simt:
        ws = KisWebSocket(simt.sim.ws_url + "/tryitout", auth(simt.sim), on_ticks=ticks.extend, on_books=books.extend)

        async def body() -> None:
            async with ws:
                await ws.subscribe(TR_ORDER_BOOK, SYMBOL)
                await ws.subscribe(TR_STOCK_TRADE, SYMBOL)
                deadline = Deadline(20, "books and ticks of the subscribed symbol")
                while len(books) < 5 or not ticks:
                    if deadline.expired():
                        raise deadline.fail()
                    seen = ws.snapshot().records
                    await on_sim(simt, lambda s: s.emit_trades(SYMBOL, 2))
                    await ws.wait_until(lambda s, seen=seen: s.records > seen, deadline.left())

        run(body(), timeout=60)
    assert all(isinstance(t, Tick) and t.symbol == SYMBOL for t in ticks)
    for book in books:
        _on_ladder(book)
    assert ws.snapshot().malformed_frames == 0


def test_books_iterator_without_a_callback():
    with running_simulator() as simt:
        ws = KisWebSocket(simt.sim.ws_url + "/tryitout", auth(simt.sim))

        async def body() -> list[OrderBook]:
            async with ws:
                await ws.subscribe(TR_ORDER_BOOK, SYMBOL)
                await on_sim(simt, lambda s: s.emit_trades(SYMBOL, 3))
                return await asyncio.wait_for(anext(aiter(ws.books())), 20)

        batch = run(body(), timeout=60)
    assert batch
    _on_ladder(batch[0])


def test_rest_snapshot_is_a_book_on_the_ladder():
    with running_simulator() as simt:
        book = rest_client(simt.sim).asking_price(SYMBOL)
    _on_ladder(book)
    assert len(book.asks) == len(book.bids) == 10
    assert book.total_ask_qty == sum(q for _, q in book.asks)
    assert abs(datetime.now(UTC) - book.timestamp) < timedelta(minutes=5)
    assert book.to_message()["type"] == "orderbook"
