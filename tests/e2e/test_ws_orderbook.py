"""Order books end to end over real sockets (issue 18 item 1): a WebSocket client subscribed with
``channels: ["orderbook"]`` through the production handlers on the local cloud, the streamer holding an
H0STASP0 slot on the KIS simulator, Redis, the fan-out pacing books per connection, and the REST route
reading the streamed book."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import requests
from support.live import emit, open_client, recv_until, subscribe
from support.users import company_id
from support.waiting import Deadline, wait_for

from kstock import keys
from kstock.realtime.channels import book_demand
from kstock_local.kis_sim.ticksize import on_ladder, step_up

SYMBOL = "005930"
BOOK_KEYS = {"type", "symbol", "asks", "bids", "totalAskQty", "totalBidQty", "timestamp", "source"}
PER_SECOND = 2  # WS_ORDERBOOK_MAX_PER_SECOND's default, which the streamer fixture keeps
WANTED = 8  # books to read: about four seconds of them at two a second


def _millis(book: dict) -> int:
    return round(datetime.fromisoformat(book["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)


def _check_ladder(book: dict) -> None:
    assert set(book) == BOOK_KEYS and book["symbol"] == SYMBOL and book["source"] == "ws", book
    asks, bids = [p for p, _ in book["asks"]], [p for p, _ in book["bids"]]
    assert asks and bids and all(on_ladder(p) for p in asks + bids), book
    assert all(step_up(lower) == higher for lower, higher in zip(asks, asks[1:], strict=False)), asks  # ascending
    assert all(step_up(lower) == higher for higher, lower in zip(bids, bids[1:], strict=False)), bids  # descending
    assert asks[0] > bids[0], book
    assert book["totalAskQty"] == sum(q for _, q in book["asks"])
    assert book["totalBidQty"] == sum(q for _, q in book["bids"])


class Trading:
    """The simulator trades the symbol about 50 times a second (each trade sends a book) until stopped:
    far more books than a connection may get, so the fan-out has to hold and skip."""

    def __init__(self, sim) -> None:
        self._sim = sim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):  # the load's pace, not a synchronisation
            emit(self._sim, SYMBOL)

    def __enter__(self) -> Trading:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _read_books(ws, wanted: int) -> tuple[list[dict], list[dict]]:
    """``wanted`` streamed orderbook messages, and every other message read meanwhile. Polled snapshots
    (``"source":"poll"``) published while the book waited for its KIS slot may still arrive first: they
    are counted among the others, not the streamed books."""
    books: list[dict] = []
    others: list[dict] = []
    deadline = Deadline(2 * wanted / PER_SECOND + 10, f"{wanted} order books")
    while len(books) < wanted:
        if deadline.expired():
            raise deadline.fail(f"; got {len(books)} books and {others[-3:]}")
        message, before = recv_until(ws, lambda m: m.get("type") == "orderbook", deadline.left(), "an order book")
        others += before
        if message["source"] == "poll" and not books:
            others.append(message)
            continue
        books.append(message)
    return books, others


def test_orderbook_channel_streams_paced_books_on_the_krx_ladder(sim, streamer, cloud, r, database):
    ws, cid = open_client(cloud)
    with ws:
        reply = subscribe(ws, [SYMBOL], channels=["orderbook"])
        assert reply == {"type": "subscribed", "symbols": [SYMBOL], "topics": [], "channels": ["orderbook"]}
        assert r.hget(keys.DEMAND, book_demand(SYMBOL)) == "1"
        wait_for(lambda: cid in streamer.fanout.books.subscribers(SYMBOL), 10, "the fan-out's book index has it")
        assert cid not in streamer.fanout.subscribers(SYMBOL)  # books only: no trades for it
        wait_for(lambda: ("H0STASP0", SYMBOL) in streamer.websocket.snapshot().subscriptions, 15, "an H0STASP0 slot")
        published = streamer.publisher.stats.books
        with Trading(sim):
            books, others = _read_books(ws, WANTED)
        assert not [m for m in others if m.get("type") == "tick"], others[:3]
        for book in books:
            _check_ladder(book)
        stamps = [_millis(b) for b in books]
        assert stamps == sorted(stamps)
        spans = [later - first for first, later in zip(stamps, stamps[PER_SECOND:], strict=False)]
        assert min(spans) >= 1000, f"{PER_SECOND + 1} books within a second: {stamps}"
        # the simulator sent far more than the client got: the fan-out held and skipped, it did not queue
        assert streamer.publisher.stats.books - published > len(books)
        assert streamer.fanout.books.skipped > 0

        def metrics() -> dict | None:  # the streamer reports its status every second
            counted = requests.get(f"{cloud.http_url}/ws/metrics", timeout=30).json()["data"]["orderBooks"]
            return counted if counted["sent"] >= len(books) and counted["skipped"] > 0 else None

        reported = wait_for(metrics, 10, "/ws/metrics counting the books")
        assert reported["published"] > reported["sent"] and reported["subscriptions"] >= 1

        # the REST route answers the streamed book while the stream holds it
        answer = requests.get(f"{cloud.http_url}/companies/{company_id(database, SYMBOL)}/orderbook", timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["source"] == "ws"
        assert json.loads(r.get(keys.latest_orderbook(SYMBOL)))["type"] == "orderbook"

        ws.send(json.dumps({"action": "unsubscribe", "symbols": [SYMBOL], "channels": ["orderbook"]}))
        recv_until(ws, lambda m: m["type"] == "unsubscribed", 10, "unsubscribe ack")
    wait_for(lambda: not streamer.fanout.books.subscribers(SYMBOL), 10, "the book index forgot it")
    wait_for(lambda: r.hget(keys.DEMAND, book_demand(SYMBOL)) is None, 10, "book demand released")
    wait_for(lambda: ("H0STASP0", SYMBOL) not in streamer.websocket.snapshot().wanted, 15, "the slot given back")
    assert streamer.websocket.snapshot().wanted >= {("H0STCNT0", SYMBOL)}, "the trades keep their slot"


def _refusal(ws, message: dict) -> dict:
    ws.send(json.dumps(message))
    reply, _ = recv_until(ws, lambda m: m["type"] in ("subscribed", "error"), 15, "the answer")
    assert reply["type"] == "error" and reply["code"] == "INVALID_REQUEST", reply
    return reply


def test_elw_books_and_unknown_channels_are_refused(cloud):
    ws, _ = open_client(cloud)
    with ws:
        elw = _refusal(ws, {"action": "subscribe", "symbols": ["57LA24"], "channels": ["orderbook"]})
        assert "57LA24" in elw["message"]
        unknown = _refusal(ws, {"action": "subscribe", "symbols": [SYMBOL], "channels": ["depth"]})
        assert "channels" in unknown["message"]
