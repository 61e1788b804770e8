"""kstock's order-book parser on the simulator's H0STASP0 frames, with and without layout drift."""

from __future__ import annotations

import asyncio
import json

import requests
import websockets
from support.kis import credentials, on_sim, run, running_simulator
from support.waiting import Deadline

from kstock.kis.models import OrderBook
from kstock.kis.protocol import FrameParser, is_book_frame, subscription_message
from kstock_local.kis_sim import SimulatorThread
from kstock_local.kis_sim.ticksize import step_up

SYMBOL = "005930"


def _approval(simt: SimulatorThread) -> str:
    creds = credentials()
    body = {"grant_type": "client_credentials", "appkey": creds.app_key, "secretkey": creds.app_secret}
    return requests.post(f"{simt.sim.rest_url}/oauth2/Approval", json=body, timeout=10).json()["approval_key"]


async def _books(simt: SimulatorThread, ws, parser: FrameParser, wanted: int) -> list[OrderBook]:
    books: list[OrderBook] = []
    deadline = Deadline(10, f"{wanted} parsed books")
    while len(books) < wanted:
        if deadline.expired():
            raise deadline.fail()
        await on_sim(simt, lambda s: s.emit_trades(SYMBOL, 2))
        try:
            raw = await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            continue
        if is_book_frame(raw):
            parsed = parser.parse_book_frame(raw)
            assert parsed, raw[:80]
            books += parsed
    return books


def _check(book: OrderBook) -> None:
    asks, bids = [p for p, _ in book.asks], [p for p, _ in book.bids]
    assert book.symbol == SYMBOL and asks and bids
    assert asks[0] > bids[0]
    assert all(step_up(a) == b for a, b in zip(asks, asks[1:], strict=False))
    assert all(step_up(b) == a for a, b in zip(bids, bids[1:], strict=False))
    assert book.total_ask_qty == sum(q for _, q in book.asks) and book.total_bid_qty == sum(q for _, q in book.bids)
    message = json.loads(book.to_json())
    assert message["type"] == "orderbook" and message["asks"][0] == list(book.asks[0])


def test_simulator_books_parse_into_order_books_even_with_extra_fields():
    with running_simulator() as simt:
        approval = _approval(simt)
        parser = FrameParser()

        async def body() -> None:
            async with websockets.connect(simt.sim.ws_url + "/tryitout", ping_interval=None) as ws:
                await ws.send(subscription_message(approval, "H0STASP0", SYMBOL))
                for book in await _books(simt, ws, parser, 5):
                    _check(book)
                await on_sim(simt, lambda s: s.set_extra_fields(4))  # KIS appends fields without notice
                for book in await _books(simt, ws, parser, 5):
                    _check(book)

        run(body(), timeout=120)
    assert parser.stats.drift == {"H0STASP0": 63} and parser.stats.malformed_frames == 0
