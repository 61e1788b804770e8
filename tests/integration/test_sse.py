"""SSE, ``GET /stream/stocks`` (issue 18 item 2): the streamer's HTTP port over real sockets, with the session
Redis and Postgres and moto's connection registry, read by a ``curl -N``-like streaming client (httpx).

Most tests publish ticks on the symbols' channels themselves (what the streamer's publisher does), so what
arrives is known exactly; the last ones run a real streamer on the KIS simulator and read its trades, directly
and through the local HTTP API's ``/stream/*`` route.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from aiohttp import web
from support.demand import forget_demand
from support.envs import environment
from support.waiting import Deadline, wait_for

from kstock import keys
from kstock.auth import tokens
from kstock.realtime import channels, demand, registry
from kstock_local.cloud.gateway.http_api import HttpApi
from kstock_local.embedded import free_port
from kstock_streamer import sse

T = TypeVar("T")
TICK_KEYS = {"type", "symbol", "price", "volume", "accVolume", "change", "changePercent", "timestamp", "source"}
READ_TIMEOUT = 60.0  # a hung stream fails the test; heartbeats keep a healthy one talking
_users = iter(range(5_000_000, 6_000_000))


def new_user() -> int:
    return next(_users)


def tick(symbol: str, price: int, timestamp: str = "2026-01-12T00:30:00.000Z") -> str:
    body = {
        "type": "tick",
        "symbol": symbol,
        "price": price,
        "volume": 3,
        "accVolume": 1000 + price % 997,
        "change": 100,
        "changePercent": 0.13,
        "timestamp": timestamp,
        "source": "ws",
    }
    return json.dumps(body, separators=(",", ":"))


# -- servers: an aiohttp app on its own event loop ------------------------------------------------------


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._runners: list[web.AppRunner] = []

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def serve(self, app: web.Application) -> str:
        port = free_port()

        async def start() -> None:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            self._runners.append(runner)

        self.run(start())
        return f"http://127.0.0.1:{port}"

    def close(self, *clients: aioredis.Redis) -> None:
        for runner in reversed(self._runners):
            self.run(runner.cleanup())
        for client in clients:
            self.run(client.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def registry_env(registry_table: str, services: dict[str, str], database: str) -> Iterator[None]:
    with environment(
        SSE_HEARTBEAT_SECONDS="0.2",
        WS_MAX_CONNECTIONS_PER_USER="2",
        WS_MAX_SYMBOLS="5",
    ):
        yield


@dataclass
class Served:
    url: str  # the streamer's HTTP port
    gateway: str  # the local HTTP API, forwarding /stream/* there
    service: sse.SseService
    r: redis.Redis


@pytest.fixture(scope="module")
def served(registry_env: None, services: dict[str, str]) -> Iterator[Served]:
    loop = LoopThread()
    client = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    app = web.Application()
    service = sse.add_routes(app, client)
    url = loop.serve(app)
    gateway = loop.serve(HttpApi([], stream_upstream=url).app())
    try:
        yield Served(url, gateway, service, redis.Redis.from_url(services["REDIS_URL"], decode_responses=True))
    finally:
        loop.close(client)


# -- a curl -N-like client --------------------------------------------------------------------------------


@dataclass
class Event:
    event: str | None = None
    id: str | None = None
    data: list[str] = field(default_factory=list)
    comment: str | None = None

    @property
    def json(self) -> Any:
        return json.loads("\n".join(self.data))


@dataclass
class Stream:
    response: httpx.Response
    _lines: Iterator[str]

    def next(self) -> Event:
        """The next event or comment (an SSE block ends at a blank line)."""
        found = Event()
        for line in self._lines:
            if line == "":
                if found.event or found.data or found.comment is not None or found.id:
                    return found
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                found.comment = value
            elif name == "data":
                found.data.append(value)
            elif name in ("event", "id"):
                setattr(found, name, value)
        raise EOFError("the stream ended")

    def until(self, wanted: Any, what: str) -> tuple[Event, list[Event]]:
        deadline = Deadline(READ_TIMEOUT / 4, what)
        seen: list[Event] = []
        while not deadline.expired():
            event = self.next()
            if wanted(event):
                return event, seen
            seen.append(event)
        raise deadline.fail(f"; saw {seen[-5:]}")


@contextmanager
def open_stream(base: str, query: dict[str, str], headers: dict[str, str] | None = None) -> Iterator[Stream]:
    timeout = httpx.Timeout(READ_TIMEOUT, connect=10)
    with httpx.stream("GET", f"{base}{sse.PATH}", params=query, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response, response.iter_lines())


def refused(base: str, query: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{base}{sse.PATH}", params=query, headers=headers, timeout=READ_TIMEOUT)


def is_tick(event: Event) -> bool:
    return event.event == "tick"


def is_ping(event: Event) -> bool:
    return event.comment == "ping"


# -- refusals, before the stream starts ---------------------------------------------------------------------


def test_no_token_is_401_in_the_envelope(served: Served) -> None:
    answer = refused(served.url, {"symbols": "005930"})
    assert answer.status_code == 401
    assert answer.json()["status"] == 401 and answer.json()["code"] == "UNAUTHORIZED"
    forged = refused(served.url, {"symbols": "005930", "token": "not-a-jwt"})
    assert (forged.status_code, forged.json()["code"]) == (401, "UNAUTHORIZED")


def test_a_revoked_token_is_401(served: Served) -> None:
    user = new_user()
    token = tokens.issue(user)
    tokens.revoke(tokens.decode(token))
    answer = refused(served.url, {"symbols": "005930"}, {"Authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHORIZED")
    assert "revoked" in answer.json()["message"]
    assert registry.user_connections(user) == []


def test_unknown_missing_and_malformed_symbols_are_400_and_hold_nothing(served: Served) -> None:
    user = new_user()
    token = tokens.issue(user)
    before = demand.counts(served.r)
    unlisted = refused(served.url, {"symbols": "005930,999999", "token": token})
    assert (unlisted.status_code, unlisted.json()["code"]) == (400, "INVALID_REQUEST")
    assert "999999" in unlisted.json()["message"]
    malformed = refused(served.url, {"symbols": "abc", "token": token})
    assert (malformed.status_code, malformed.json()["code"]) == (400, "INVALID_REQUEST")
    missing = refused(served.url, {"token": token})
    assert (missing.status_code, missing.json()["code"]) == (400, "MISSING_FIELD")
    channel = refused(served.url, {"symbols": "005930", "channels": "gossip", "token": token})
    assert (channel.status_code, channel.json()["code"]) == (400, "INVALID_REQUEST")
    too_many = refused(served.url, {"symbols": "005930,000660,035420,005380,051910,006400", "token": token})
    assert (too_many.status_code, too_many.json()["code"]) == (400, "INVALID_REQUEST")
    assert registry.user_connections(user) == []
    assert demand.counts(served.r) == before


# -- the stream -----------------------------------------------------------------------------------------------


def test_published_ticks_arrive_as_tick_events_with_ids(served: Served) -> None:
    token = tokens.issue(new_user())
    with open_stream(served.url, {"symbols": "005930,000660"}, {"Authorization": f"Bearer {token}"}) as stream:
        # subscribed before the answer started: nothing published from now on is missed
        sent = [tick("005930", 75100), tick("000660", 193000), tick("005930", 75200)]
        for symbol, text in zip(["005930", "000660", "005930"], sent, strict=True):
            served.r.publish(keys.realtime_channel(symbol), text)
        got = [stream.until(is_tick, "a tick event")[0] for _ in sent]
    assert [event.data[0] for event in got] == sent
    assert all(set(event.json) == TICK_KEYS for event in got)
    ids = [event.id for event in got]
    assert all(ids) and len(set(ids)) == len(ids)
    numbers = [int(str(i).rsplit("-", 1)[1]) for i in ids]
    assert numbers == sorted(numbers)


def test_heartbeats_arrive_while_nothing_trades(served: Served) -> None:
    token = tokens.issue(new_user())
    with open_stream(served.url, {"symbols": "035420", "token": token}) as stream:
        events = [stream.next() for _ in range(3)]
    assert [e.comment for e in events] == ["ping", "ping", "ping"]


def test_a_reconnect_with_last_event_id_gets_a_snapshot_first(served: Served) -> None:
    token = tokens.issue(new_user())
    latest = {"005380": tick("005380", 240500), "051910": tick("051910", 310000)}
    for symbol, text in latest.items():
        served.r.set(keys.latest_price(symbol), text, ex=600)
    query = {"symbols": "005380,051910", "token": token}
    with open_stream(served.url, query, {"Last-Event-ID": "1736555400123-7"}) as stream:
        first = [stream.next() for _ in latest]
        served.r.publish(keys.realtime_channel("051910"), live := tick("051910", 310500))
        after, _ = stream.until(is_tick, "the live tick after the snapshot")
    assert [(e.event, e.data[0]) for e in first] == [("tick", latest["005380"]), ("tick", latest["051910"])]
    assert after.data[0] == live
    # a first connection (no Last-Event-ID) gets no snapshot: its first event is a heartbeat
    with open_stream(served.url, query) as fresh:
        assert is_ping(fresh.next())


def book(symbol: str, best_ask: int) -> str:
    body = {
        "type": "orderbook",
        "symbol": symbol,
        "asks": [[best_ask + 100 * i, 10 + i] for i in range(10)],
        "bids": [[best_ask - 100 * (i + 1), 20 + i] for i in range(10)],
        "totalAskQty": 145,
        "totalBidQty": 245,
        "timestamp": "2026-01-12T00:30:00.000Z",
    }
    return json.dumps(body, separators=(",", ":"))


def test_order_books_arrive_as_orderbook_events_and_count_as_book_demand(served: Served) -> None:
    token = tokens.issue(new_user())
    latest_tick, latest_book = tick("035720", 41000), book("035720", 41050)
    served.r.set(keys.latest_price("035720"), latest_tick, ex=600)
    served.r.set(keys.latest_orderbook("035720"), latest_book, ex=600)
    before = demand.counts(served.r).get(channels.book_demand("035720"), 0)
    query = {"symbols": "035720", "channels": "trade,orderbook", "token": token}
    with open_stream(served.url, query, {"Last-Event-ID": "1-1"}) as stream:
        snapshot = [stream.next(), stream.next()]
        assert demand.counts(served.r).get(channels.book_demand("035720"), 0) == before + 1
        served.r.publish(keys.orderbook_channel("035720"), live_book := book("035720", 41100))
        got, _ = stream.until(lambda e: e.event == "orderbook", "a live order book")
    assert [(e.event, e.data[0]) for e in snapshot] == [("tick", latest_tick), ("orderbook", latest_book)]
    assert got.data[0] == live_book and got.id
    # a books-only stream gets no trades
    with open_stream(served.url, {"symbols": "035720", "channels": "orderbook", "token": token}) as books:
        served.r.publish(keys.realtime_channel("035720"), tick("035720", 41200))
        served.r.publish(keys.orderbook_channel("035720"), second := book("035720", 41200))
        only, seen = books.until(lambda e: e.event == "orderbook", "a book on a books-only stream")
    assert only.data[0] == second and not any(is_tick(e) for e in seen)


def test_a_stream_is_a_connection_of_its_user_and_holds_demand_while_open(served: Served) -> None:
    user = new_user()
    token = tokens.issue(user)
    before = demand.counts(served.r).get("000660", 0)
    with open_stream(served.url, {"symbols": "000660", "token": token}) as stream:
        stream.next()
        (connection,) = registry.user_connections(user)
        assert connection.startswith(sse.CONNECTION_PREFIX)
        assert registry.subscriptions(connection)[0] == ["000660"]
        assert demand.counts(served.r).get("000660", 0) == before + 1
    # the client went away: the stream notices (at the latest at its next heartbeat) and releases both
    wait_for(lambda: registry.user_connections(user) == [], 15, "the stream's registry rows removed")
    wait_for(lambda: demand.counts(served.r).get("000660", 0) == before, 15, "its demand released")


def test_a_user_holds_at_most_the_connection_limit_in_streams(served: Served) -> None:
    user = new_user()
    token = tokens.issue(user)
    with ExitStack() as held:
        for _ in range(2):  # WS_MAX_CONNECTIONS_PER_USER=2 here
            held.enter_context(open_stream(served.url, {"symbols": "005930", "token": token}))
        third = refused(served.url, {"symbols": "005930", "token": token})
        assert (third.status_code, third.json()["code"]) == (429, "TOO_MANY_REQUESTS")
        assert int(third.headers["Retry-After"]) >= 1
        other = tokens.issue(new_user())
        with open_stream(served.url, {"symbols": "005930", "token": other}) as theirs:  # others are not affected
            assert theirs.next() is not None
    wait_for(lambda: registry.user_connections(user) == [], 15, "the streams' registry rows removed")


def test_a_logout_ends_the_stream_at_its_next_heartbeat(served: Served) -> None:
    token = tokens.issue(new_user())
    with open_stream(served.url, {"symbols": "005930", "token": token}) as stream:
        stream.next()
        tokens.revoke(tokens.decode(token))
        ended, _ = stream.until(lambda e: e.event == "error", "the stream's error event")
        assert (ended.json["status"], ended.json["code"]) == (401, "UNAUTHORIZED")
        with pytest.raises(EOFError):
            stream.next()


# -- the local HTTP API's /stream/* route ------------------------------------------------------------------


def test_the_local_gateway_forwards_streams_and_refusals(served: Served) -> None:
    assert refused(served.gateway, {"symbols": "005930"}).json()["code"] == "UNAUTHORIZED"
    token = tokens.issue(new_user())
    with open_stream(served.gateway, {"symbols": "005930", "token": token}) as stream:
        assert is_ping(stream.next())  # heartbeats pass as they come, not buffered
        served.r.publish(keys.realtime_channel("005930"), sent := tick("005930", 75300))
        got, _ = stream.until(is_tick, "a tick through the gateway")
    assert got.data[0] == sent and got.id


def test_the_local_gateway_answers_503_when_no_streamer_runs() -> None:
    loop = LoopThread()
    try:
        gateway = loop.serve(HttpApi([], stream_upstream=f"http://127.0.0.1:{free_port()}").app())
        answer = refused(gateway, {"symbols": "005930", "token": "x"})
    finally:
        loop.close()
    assert (answer.status_code, answer.json()["code"]) == (503, "STREAM_UNAVAILABLE")


# -- a real streamer on the KIS simulator, its HTTP port built by main.health_app ------------------------------


@dataclass
class Live:
    url: str
    gateway: str
    streamer: Any
    sim: Any


@pytest.fixture(scope="module")
def live(registry_env: None, services: dict[str, str], database: str) -> Iterator[Live]:
    from support.streamer import StreamerThread, simulator

    from kstock_streamer.main import health_app
    from kstock_streamer.service import StreamerOptions

    forget_demand(redis.Redis.from_url(services["REDIS_URL"]))
    sim = simulator(rate=20)
    sim.start()
    options = StreamerOptions(default_symbols=["005930"], stable_seconds=0.5, plan_interval=0.2, run_writer=False)
    thread = StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options)
    try:
        with thread as streamer:
            url_port, gateway_port = free_port(), free_port()

            async def start() -> list[web.AppRunner]:
                runners = []
                for app, port in (
                    (health_app(streamer), url_port),
                    (HttpApi([], f"http://127.0.0.1:{url_port}").app(), gateway_port),
                ):
                    runner = web.AppRunner(app, access_log=None)
                    await runner.setup()
                    await web.TCPSite(runner, "127.0.0.1", port).start()
                    runners.append(runner)
                return runners

            runners = thread.run(start())
            try:
                yield Live(f"http://127.0.0.1:{url_port}", f"http://127.0.0.1:{gateway_port}", streamer, sim)
            finally:
                for runner in reversed(runners):
                    thread.run(runner.cleanup())
    finally:
        sim.stop()


def kis_subscribed(streamer: Any, symbol: str) -> bool:
    return any(key == symbol for _, key in streamer.websocket.snapshot().subscriptions)


def trade_until(stream: Stream, sim: Any, symbol: str, kind: str = "tick") -> Event:
    """Read until an event ``kind`` of ``symbol`` arrives; each heartbeat makes the simulator trade it once more."""

    def wanted(event: Event) -> bool:
        if is_ping(event):
            sim.call(lambda s: s.emit_trades(symbol, 1))
        return event.event == kind and event.json["symbol"] == symbol

    return stream.until(wanted, f"{kind} of {symbol} from the simulator")[0]


def test_the_simulators_trades_arrive_and_a_stream_makes_the_streamer_stream_its_symbols(live: Live) -> None:
    """035720 is not a default symbol: only the SSE client's demand puts it in a KIS slot."""
    assert not kis_subscribed(live.streamer, "035720")
    token = tokens.issue(new_user())
    with open_stream(live.url, {"symbols": "005930,035720", "token": token}) as stream:
        wait_for(lambda: kis_subscribed(live.streamer, "035720"), 15, "035720 in a KIS slot for the SSE client")
        for symbol in ("005930", "035720"):
            event = trade_until(stream, live.sim, symbol)
            body = event.json
            assert set(body) == TICK_KEYS and body["type"] == "tick" and event.id
            assert body["price"] > 0 and body["source"] in ("ws", "poll")
        # the same through the local HTTP API's route
        with open_stream(live.gateway, {"symbols": "035720", "token": tokens.issue(new_user())}) as routed:
            assert trade_until(routed, live.sim, "035720").json["symbol"] == "035720"
    wait_for(lambda: not kis_subscribed(live.streamer, "035720"), 30, "035720's KIS slot released after the streams")


def test_the_simulators_order_books_arrive_on_the_ladder_for_an_sse_client(live: Live) -> None:
    token = tokens.issue(new_user())
    with open_stream(live.url, {"symbols": "000660", "channels": "orderbook", "token": token}) as stream:
        event = trade_until(stream, live.sim, "000660", "orderbook")
    body = event.json
    assert body["type"] == "orderbook" and body["symbol"] == "000660"
    asks, bids = [price for price, _ in body["asks"]], [price for price, _ in body["bids"]]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and asks[0] > bids[0]
