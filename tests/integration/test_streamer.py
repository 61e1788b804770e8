"""The streamer against the KIS simulator, real Redis and Postgres."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
import redis
from support.demand import forget_demand
from support.serverdirs import server_dir
from support.streamer import StreamerThread, simulator
from support.waiting import wait_for

from kstock import keys
from kstock_streamer.service import StreamerOptions


@pytest.fixture(scope="module")
def sim():
    """The simulator's thread: ``sim.sim`` is the simulator, ``sim.call(fn)`` runs fn on its loop."""
    thread = simulator(rate=300)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def r(services):
    client = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    forget_demand(client, keys.TICK_STREAM)
    yield client
    forget_demand(client)


def options(**kw) -> StreamerOptions:
    return StreamerOptions(
        **{"default_symbols": ["005930", "000660"], "stable_seconds": 0.5, "plan_interval": 0.2, "poll_rate": 20, **kw}
    )


def listen(r, *symbols):
    pubsub = r.pubsub()
    pubsub.subscribe(*[keys.realtime_channel(s) for s in symbols])
    return pubsub


def next_tick(pubsub, timeout=10.0, source=None):
    def get():
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "message":
            tick = json.loads(message["data"])
            if source is None or tick["source"] == source:
                return tick
        return None

    return wait_for(get, timeout, "a tick")


def test_ticks_are_published_stored_as_latest_price_and_persisted(sim, services, database, r):
    pubsub = listen(r, "005930")
    with StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options()) as streamer:
        tick = next_tick(pubsub, source="ws")
        assert set(tick) == {
            "type",
            "symbol",
            "price",
            "volume",
            "accVolume",
            "change",
            "changePercent",
            "timestamp",
            "source",
        }
        assert tick["type"] == "tick" and tick["symbol"] == "005930" and tick["timestamp"].endswith("Z")
        assert isinstance(tick["price"], int) and tick["price"] > 0
        latest = json.loads(r.get(keys.latest_price("005930")))
        assert latest["symbol"] == "005930" and 0 < r.ttl(keys.latest_price("005930")) <= 10
        wait_for(lambda: streamer.writer.stats.rows > 0, 15, "rows written")
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT stream_id) FROM stock_ticks WHERE symbol = '005930'"
        ).fetchone()
    assert rows[0] == rows[1] > 0


def test_demand_moves_symbols_into_slots_and_the_42nd_is_polled(sim, services, database, r):
    from kstock.companies.reference import load_companies

    demanded = [c.symbol for c in load_companies()[:45]]
    r.hset(keys.DEMAND, mapping={s: 45 - i for i, s in enumerate(demanded)})
    polled_symbol = demanded[-1]
    pubsub = listen(r, polled_symbol)
    with StreamerThread(
        sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options(default_symbols=[])
    ) as streamer:
        wait_for(lambda: len(streamer.websocket.snapshot().subscriptions) == 41, 20, "41 slots taken")
        assert streamer.planner.streamed == set(demanded[:41])
        assert polled_symbol in streamer.polled
        tick = next_tick(pubsub, 15)
        assert tick["source"] == "poll" and tick["symbol"] == polled_symbol and tick["volume"] == 0
        # demand falls away: after the stable time the slot is released
        r.hdel(keys.DEMAND, demanded[0])
        r.publish(keys.CONTROL_CHANNEL, json.dumps({"symbol": demanded[0], "delta": -1}))
        wait_for(lambda: demanded[0] not in streamer.planner.streamed, 10, "slot released")
        wait_for(
            lambda: ("H0STCNT0", demanded[0]) not in streamer.websocket.snapshot().subscriptions, 10, "KIS unsubscribed"
        )


def test_a_book_without_a_slot_is_polled_and_published_as_a_snapshot(sim, services, database, r):
    """The one slot goes to 005930's trades (more users); 035420's book waits for none: it is polled."""
    from kstock.realtime.channels import book_demand
    from kstock_local.kis_sim.ticksize import step_up

    r.hset(keys.DEMAND_USERS, mapping={"005930": 2, book_demand("035420"): 1})
    pubsub = r.pubsub()
    pubsub.subscribe(keys.orderbook_channel("035420"))
    with StreamerThread(
        sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options(default_symbols=[], slots=1)
    ) as streamer:
        wait_for(lambda: streamer.planner.streamed == {"005930"}, 20, "005930's trades in the one slot")
        assert streamer.polled == [book_demand("035420")]

        def polled_book() -> dict | None:
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            return json.loads(message["data"]) if message else None

        book = wait_for(polled_book, 20, "a polled book of 035420")
    pubsub.close()
    assert book["type"] == "orderbook" and book["symbol"] == "035420" and book["source"] == "poll"
    asks, bids = [p for p, _ in book["asks"]], [p for p, _ in book["bids"]]
    assert asks and bids and asks[0] > bids[0]
    assert all(step_up(lower) == higher for lower, higher in zip(asks, asks[1:], strict=False))
    assert json.loads(r.get(keys.latest_orderbook("035420")))["source"] == "poll"


def test_dropped_socket_resumes_with_subscriptions_restored_and_a_snapshot(sim, services, database, r):
    pubsub = listen(r, "005930")
    with StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options()) as streamer:
        next_tick(pubsub, source="ws")
        before = streamer.websocket.snapshot().subscriptions
        assert before == {("H0STCNT0", "005930"), ("H0STCNT0", "000660")}
        assert sim.call(lambda s: s.drop_all_sockets()) >= 1
        wait_for(lambda: streamer.websocket.snapshot().connects >= 2, 5, "reconnect")
        while True:  # the first ws tick after the drop
            tick = next_tick(pubsub, 5)
            if tick["source"] == "ws" and streamer.websocket.snapshot().connects >= 2:
                break
        # how fast is the reconnect's business (kstock bench startup / the fault suite), not this test's
        assert streamer.websocket.snapshot().subscriptions == before
        wait_for(lambda: streamer.snapshots >= 2, 5, "REST snapshot of every streamed symbol")


@pytest.fixture
def own_redis(tmp_path):
    from kstock_local.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "redis", persist=False)
    server.start()
    yield server
    server.stop()


def test_restarting_redis_does_not_stop_the_streamer(sim, own_redis, database):
    with StreamerThread(sim.sim.rest_url, sim.sim.ws_url, own_redis.url, database, options()) as streamer:
        wait_for(lambda: streamer.publisher.stats.ticks > 0, 10, "ticks before the restart")
        own_redis.stop()
        wait_for(lambda: streamer.publisher.stats.redis_errors > 0, 10, "the outage noticed")
        own_redis.start()
        r = redis.Redis.from_url(own_redis.url, decode_responses=True)
        pubsub = listen(r, "005930")
        tick = next_tick(pubsub, 15, source="ws")
        assert tick["symbol"] == "005930"
        assert streamer.websocket.snapshot().connected  # the KIS session never noticed


@pytest.fixture
def own_postgres():
    from kstock.companies.reference import seed
    from kstock.db.migrate import migrate
    from kstock_local.embedded import EmbeddedPostgres

    with server_dir("own-postgres") as home:
        server = EmbeddedPostgres(home / "pg")
        url = server.start()
        migrate(url)
        with psycopg.connect(url) as conn:
            conn.row_factory = psycopg.rows.dict_row
            seed(conn)
        yield server
        server.stop()


def test_postgres_down_for_30s_under_load_loses_and_duplicates_nothing(sim, services, own_postgres, r):
    from kstock.companies.reference import load_companies

    url = own_postgres.url
    r.hset(keys.DEMAND, mapping={c.symbol: 1 for c in load_companies()[:41]})  # fill every KIS slot
    thread = StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], url, options())
    with thread as streamer:
        wait_for(lambda: streamer.writer.stats.rows > 0, 15, "rows before the outage")
        own_postgres.stop()
        stopped_at = time.monotonic()
        wait_for(lambda: streamer.writer.stats.db_errors > 0, 15, "the outage noticed")
        published_during = streamer.publisher.stats.ticks
        # at least 30 s down, and real load meanwhile (a slow machine's simulator needs longer for it)
        wait_for(
            lambda: time.monotonic() - stopped_at >= 30 and streamer.publisher.stats.ticks - published_during > 1000,
            90,
            "30 s of outage and 1,000 ticks published during it",
            interval=0.5,
        )
        own_postgres.start()
        thread.run(streamer.websocket.close())  # end the feed: what was published is now fixed

        def stream_ids() -> set[str]:
            return {
                f"{entry_id}:{i}"
                for entry_id, fields in r.xrange(keys.TICK_STREAM)
                for i, _ in enumerate(json.loads(fields["t"]))
            }

        def db_ids() -> list[str]:
            with psycopg.connect(url) as conn:
                return [row[0] for row in conn.execute("SELECT stream_id FROM stock_ticks").fetchall()]

        wait_for(lambda: set(db_ids()) == stream_ids(), 60, "every published tick written")
        ids = db_ids()
    assert len(ids) == len(set(ids)) > 1000  # exactly once, and under real load
