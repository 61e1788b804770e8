"""Order books without servers: the fan-out's per-connection pace (at most N books of a symbol a second,
the newest always delivered in the end), the arrival stamp inside KIS's second, the control message's
books, and the planner weighing books with trades in the same KIS slots."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kstock.kis.connection import arrival_stamped
from kstock.kis.models import OrderBook
from kstock.market.kistime import iso_utc
from kstock.realtime.channels import book_demand, book_symbol
from kstock_streamer.fanout import control
from kstock_streamer.fanout.books import BookFanout
from kstock_streamer.fanout.connection import Connection
from kstock_streamer.planner import SubscriptionPlanner

START = datetime(2026, 1, 12, 0, 30, 0, tzinfo=UTC)


class Timers:
    """A hand-driven clock and ``call_later``: the test decides when time passes."""

    def __init__(self) -> None:
        self.now = START.timestamp()
        self.pending: list[tuple[float, Callable[[], None], Handle]] = []

    def call_later(self, delay: float, fn: Callable[[], None]) -> Handle:
        handle = Handle()
        self.pending.append((self.now + delay, fn, handle))
        return handle

    def advance(self, to: float) -> None:
        """Run every timer due by ``to``, in order, then stand at ``to``."""
        while True:
            due = sorted((p for p in self.pending if p[0] <= to and not p[2].cancelled), key=lambda p: p[0])
            if not due:
                break
            at, fn, handle = due[0]
            self.pending.remove(due[0])
            self.now = max(self.now, at)
            fn()
        self.pending = [p for p in self.pending if not p[2].cancelled]
        self.now = max(self.now, to)


class Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def book_text(at: float, ask: int = 70100) -> str:
    stamp = iso_utc(datetime.fromtimestamp(at, UTC))
    return json.dumps(
        {
            "type": "orderbook",
            "symbol": "005930",
            "asks": [[ask, 5]],
            "bids": [[ask - 100, 7]],
            "totalAskQty": 5,
            "totalBidQty": 7,
            "timestamp": stamp,
            "source": "ws",
        }
    )


def fanout(per_second: float, timers: Timers) -> tuple[BookFanout, list[dict], Connection]:
    received: list[dict] = []
    books = BookFanout(
        per_second,
        lambda conn, payload: received.append(json.loads(payload)),
        clock=lambda: timers.now,
        call_later=timers.call_later,
    )
    conn = Connection("c1", "http://127.0.0.1:3001/Prod", "tick", 0.1)
    books.subscribe(conn, ["005930"])
    return books, received, conn


def millis(message: dict) -> int:
    return round(datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)


def test_a_burst_is_paced_and_its_newest_book_arrives_last():
    timers = Timers()
    books, received, _ = fanout(2, timers)
    for i in range(20):  # 20 books within 190 ms, each one a new ask
        timers.advance(START.timestamp() + i * 0.01)
        books.on_book("005930", book_text(timers.now, ask=70100 + i * 100))
    assert [m["asks"][0][0] for m in received] == [70100]  # the first at once, the rest held
    timers.advance(START.timestamp() + 5)
    assert [m["asks"][0][0] for m in received] == [70100, 72000]  # only the newest of the held ones
    assert millis(received[1]) - millis(received[0]) >= 500  # stamped at its turn
    assert books.skipped == 18 and books.held() == 0


def test_random_arrivals_never_exceed_n_per_second_by_message_timestamps():
    rng = random.Random(18)
    for per_second in (2, 3, 4):
        timers = Timers()
        books, received, _ = fanout(per_second, timers)
        at = START.timestamp()
        last_ask = 0
        for i in range(400):
            at += rng.choice((0.001, 0.02, 0.05, 0.2, 0.7))
            timers.advance(at)
            last_ask = 70000 + i * 100
            books.on_book("005930", book_text(at, ask=last_ask))
        timers.advance(at + 10)
        stamps = [millis(m) for m in received]
        assert stamps == sorted(stamps)
        window = [b - a for a, b in zip(stamps, stamps[per_second:], strict=False)]
        assert min(window) >= 1000, f"{per_second + 1} books within a second at {per_second}/s"
        assert received[-1]["asks"][0][0] == last_ask  # the final book is never left held


def test_unsubscribed_or_removed_connections_get_nothing_held():
    timers = Timers()
    books, received, conn = fanout(2, timers)
    books.on_book("005930", book_text(timers.now))
    timers.advance(timers.now + 0.1)
    books.on_book("005930", book_text(timers.now, ask=70500))  # held
    books.remove(conn)
    timers.advance(timers.now + 5)
    assert len(received) == 1 and books.subscribers("005930") == [] and books.books_of("c1") == set()
    books.on_book("005930", book_text(timers.now))
    assert len(received) == 1


def test_each_symbol_and_each_connection_has_its_own_pace():
    timers = Timers()
    books, received, conn = fanout(2, timers)
    other = Connection("c2", "http://127.0.0.1:3001/Prod", "batch", 0.25)
    books.subscribe(other, ["005930"])
    books.subscribe(conn, ["000660"])
    books.on_book("005930", book_text(timers.now))
    books.on_book("000660", book_text(timers.now).replace("005930", "000660"))
    assert sorted(m["symbol"] for m in received) == ["000660", "005930", "005930"]


def test_control_announcements_carry_books():
    text = json.dumps({"event": "subscribe", "connectionId": "c1", "symbols": [], "books": ["005930", 7]})
    announcement = control.parse(text)
    assert announcement is not None and announcement.books == ["005930"] and announcement.symbols == []
    old = control.parse(json.dumps({"event": "subscribe", "connectionId": "c1", "symbols": ["005930"]}))
    assert old is not None and old.books == []


def test_arrival_stamp_stays_inside_the_second_kis_gave():
    book = OrderBook("005930", ((70100, 5),), ((70000, 7),), 5, 7, 0, "0", START)
    assert arrival_stamped(book, START + timedelta(milliseconds=420)).timestamp == START + timedelta(milliseconds=420)
    assert arrival_stamped(book, START + timedelta(seconds=3)).timestamp == START + timedelta(milliseconds=999)
    assert arrival_stamped(book, START - timedelta(milliseconds=200)).timestamp == START  # clocks disagree


# -- the planner: books and trades share the KIS slots -------------------------------------------------


def test_books_take_slots_of_their_own_ranked_with_trades_by_distinct_users():
    planner = SubscriptionPlanner(slots=3, stable_seconds=30)
    clients = {"005930": 5, book_demand("005930"): 4, "000660": 3, book_demand("000660"): 1, "035420": 2}
    plan = planner.plan(planner.demand(clients), now=0)
    assert plan.streamed == {"005930", book_demand("005930"), "000660"}  # three slots, three registrations
    assert plan.polled == ["035420", book_demand("000660")]  # the streamer polls the trades only


def test_at_equal_demand_trades_go_first_and_defaults_never_ask_for_books():
    planner = SubscriptionPlanner(slots=1, stable_seconds=30)
    plan = planner.plan(planner.demand({book_demand("005930"): 2, "005930": 2}), now=0)
    assert plan.streamed == {"005930"}
    scores = planner.demand({}, defaults=["000660"], watchlist=["035420"])
    assert all(book_symbol(name) is None for name in scores)


def test_a_book_in_demand_moves_into_a_slot_after_the_stable_time():
    planner = SubscriptionPlanner(slots=2, stable_seconds=30)
    planner.plan(planner.demand({"005930": 1, "000660": 1}), now=0)
    wanted = planner.demand({"005930": 1, "000660": 1, book_demand("005930"): 5})
    assert planner.plan(wanted, now=10).subscribe == []  # rank flicker protection applies to books too
    plan = planner.plan(wanted, now=41)
    assert plan.subscribe == [book_demand("005930")] and plan.unsubscribe == ["005930"]  # 000660 wins the tie
