"""Issue 17, findings 1, 4 and 7 on the live path over real sockets: the production WebSocket handlers on
the local cloud, moto's connection registry, the KIS simulator, and a streamer with its fan-out on a Redis
of this module's own, which is killed with ``kill -9`` and comes back empty.

* Redis restarts empty: the subscriptions that were open get ticks again (demand and the fan-out's index
  rebuilt from the registry), and the status and ``/ws/metrics`` count the connections again.
* Drift injected into the demand counts is repaired by the streamer's reconciler, and reported.
* KIS hangs (the simulator's event loop blocked: its sockets accept and nothing answers): every client is
  told ``stalled``, both health endpoints name it, then ``resumed`` when the feed speaks again.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import redis
from support.envs import environment
from support.kis import forget_kis_tokens
from support.live import SECRET, emit, open_client, recv_until, state, subscribe
from support.waiting import wait_for
from websockets.sync.client import ClientConnection

from kstock import keys
from kstock.realtime import demand
from kstock_local.cloud.runtime import LocalCloud
from kstock_local.embedded import EmbeddedRedis, free_port
from kstock_local.kis_sim import SimulatorThread

if TYPE_CHECKING:
    from kstock_streamer.service import Streamer

DEFAULTS = ["005930", "000660"]  # streamed from the start: their KIS slots never move in this module
STALL_SECONDS = 6.0  # short, so the test waits little; nothing here measures how long detection takes
PINGPONG_SECONDS = 2.0  # the simulator's heartbeat keeps a feed with few trades of our symbols alive


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False)  # a restart comes back empty
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def env(services: dict[str, str], moto_endpoint: str, own_redis: EmbeddedRedis) -> Iterator[dict[str, str]]:
    """This process (the streamer runs in it) and the functions share moto, the module's Redis and the key."""
    values = {"JWT_SECRET": SECRET, "AWS_ENDPOINT_URL": moto_endpoint, "REDIS_URL": own_redis.url}
    with environment(**values):
        yield values


@pytest.fixture(scope="module")
def r(own_redis: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(own_redis.url, decode_responses=True, socket_timeout=10)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    from support.streamer import simulator

    forget_kis_tokens()
    thread = simulator(rate=50, pingpong_interval=PINGPONG_SECONDS)
    thread.start()
    yield thread
    thread.stop()
    forget_kis_tokens()


@pytest.fixture(scope="module")
def streamer(sim: SimulatorThread, cloud: LocalCloud, own_redis: EmbeddedRedis, database: str) -> Iterator[Streamer]:
    from support.streamer import StreamerThread

    from kstock_streamer.fanout import FanoutOptions
    from kstock_streamer.service import StreamerOptions

    options = StreamerOptions(
        default_symbols=DEFAULTS,
        stable_seconds=0.5,
        plan_interval=0.2,
        poll_rate=5,
        run_writer=False,
        fanout=True,
        fanout_options=FanoutOptions(concurrency=16),
        reconcile_seconds=1.0,
        stall_seconds=STALL_SECONDS,
    )
    thread = StreamerThread(sim.sim.rest_url, sim.sim.ws_url, own_redis.url, database, options)
    with thread as running:
        wait_for(lambda: running.fanout is not None and running.fanout.ready.is_set(), 20, "fan-out index built")
        wait_for(lambda: len(running.websocket.snapshot().subscriptions) == len(DEFAULTS), 20, "KIS slots")
        running.thread = thread  # type: ignore[attr-defined, unused-ignore]  # its loop serves the health endpoint below
        yield running


def user() -> int:
    return uuid.uuid4().int % 1_000_000_000 + 5_000_000


def next_tick_of(ws: ClientConnection, sim: SimulatorThread, symbol: str, what: str) -> dict[str, Any]:
    """A trade forced now reaches the client (a tick queued before now does not count)."""
    emit(sim, symbol)
    acc, _ = state(sim, symbol)
    tick: dict[str, Any]
    tick, _ = recv_until(ws, lambda m: m.get("symbol") == symbol and m.get("accVolume", 0) >= acc, 20, what)
    return tick


def status_of(r: redis.Redis) -> dict[str, Any]:
    raw = r.get(keys.STREAMER_STATUS)
    status: dict[str, Any] = json.loads(str(raw)) if raw else {}
    return status


def answered(read: Any) -> Any:
    """``read()`` once Redis answers this process again (its pooled connections died with the server)."""

    def attempt() -> Any:
        try:
            return read() or True
        except redis.ConnectionError:
            return None

    wait_for(attempt, 15, "Redis answering this process")
    return read()


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


# -- finding 1: Redis comes back empty, nothing is lost -------------------------------------------------


def test_open_subscriptions_get_ticks_again_after_redis_restarts_empty(
    sim: SimulatorThread, streamer: Streamer, cloud: LocalCloud, own_redis: EmbeddedRedis, r: redis.Redis
) -> None:
    first, first_id = open_client(cloud, user())
    second, second_id = open_client(cloud, user())
    with first, second:
        subscribe(first, ["005930", "000660"])
        subscribe(second, ["005930"])
        fanout = streamer.fanout
        assert fanout is not None
        wait_for(lambda: {first_id, second_id} <= set(fanout.subscribers("005930")), 15, "both clients indexed")
        next_tick_of(first, sim, "005930", "a tick before the restart")
        rebuilds = streamer.keeper.rebuilds if streamer.keeper else 0

        os.kill(own_redis.pid or 0, signal.SIGKILL)
        wait_for(lambda: own_redis.exit_code() is not None, 15, "redis-server to die")
        own_redis.relaunch()
        wait_for(own_redis.started, 15, "redis-server back (empty: no persistence)")

        # the clients do nothing: the streamer and its fan-out rebuild from the registry by themselves
        next_tick_of(first, sim, "005930", "a tick on the first client after the restart")
        next_tick_of(second, sim, "005930", "a tick on the second client after the restart")
        next_tick_of(first, sim, "000660", "the first client's other symbol after the restart")
        assert streamer.keeper is not None and streamer.keeper.rebuilds > rebuilds
        assert answered(demand.counts) == {"005930": 2, "000660": 1}  # the registry's, though Redis lost them
        assert answered(demand.users) == {"005930": 2, "000660": 1}

        def connections_counted() -> bool:
            fan = answered(lambda: status_of(r)).get("fanout") or {}
            return fan.get("connections", 0) >= 2 and fan.get("ready") is True

        wait_for(connections_counted, 15, "the streamer's status counting the connections again")
        code, body = get_json(f"{cloud.http_url}/ws/metrics")
        assert code == 200 and body["data"]["connections"] >= 2, body
        assert body["data"]["subscriptionsPerSymbol"]["005930"] == 2


# -- findings 1 and 4: drift is repaired and reported ------------------------------------------------------


def test_the_reconciler_repairs_injected_drift_and_reports_it(
    streamer: Streamer, cloud: LocalCloud, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="streamer.demand")
    ws, _ = open_client(cloud, user())
    with ws:
        subscribe(ws, ["035420", "051910"])
        keeper = streamer.keeper
        assert keeper is not None
        # both symbols counted before the injection: with 035420 alone, 051910's own count could land after
        # the HDEL and a round repaired that alone (CI: 051910 [0,1] one round, 035420 [42,1] the next)
        wait_for(
            lambda: (
                keeper.checks > 0
                and all(demand.counts().get(s) == 1 and demand.users().get(s) == 1 for s in ("035420", "051910"))
            ),
            15,
            "quiet counts of both symbols",
        )
        repairs = keeper.repairs
        with r.pipeline(transaction=True) as inject:  # at once: one reconciler round sees all of it, or none
            inject.hincrby(keys.DEMAND, "035420", 41)  # a leaked count
            inject.hdel(keys.DEMAND, "051910")  # and a lost one
            inject.hset(keys.DEMAND_USERS, "006400", "3")  # users nobody has
            inject.execute()
        wait_for(
            lambda: demand.counts().get("035420") == 1 and demand.counts().get("051910") == 1,
            15,
            "the counts repaired",
        )
        wait_for(lambda: "006400" not in demand.users(), 15, "the users count repaired")
        assert keeper.repairs > repairs
        reported = wait_for(lambda: (status_of(r).get("demand") or {}).get("repairs", 0) > repairs, 15, "reported")
        assert reported
        drift = status_of(r)["demand"]["lastDrift"]
        assert drift["symbols"] >= 1 and drift["userCounts"] >= 1
        lines = [rec.getMessage() for rec in caplog.records if "demand drift repaired" in rec.getMessage()]
        assert lines and any('"035420":[42,1]' in line or '"051910":[0,1]' in line for line in lines)


# -- finding 7: a hung KIS is told to every client and named by both health endpoints -----------------------


class HungKis:
    """Blocks the simulator's event loop: its sockets stay open (the kernel accepts) and nothing is answered,
    like a SIGSTOPped KIS. ``release()`` lets it go on."""

    def __init__(self, sim: SimulatorThread) -> None:
        self._sim = sim
        self._gate = threading.Event()
        self._blocked = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        async def block() -> None:
            self._blocked.set()
            self._gate.wait(600)  # blocking on purpose: the whole loop stops

        self._sim.run(block(), timeout=700)

    def __enter__(self) -> HungKis:
        self._thread.start()
        wait_for(self._blocked.is_set, 15, "the simulator's loop blocked")
        return self

    def release(self) -> None:
        self._gate.set()
        self._thread.join(timeout=30)

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_a_hung_kis_is_told_to_every_client_and_named_by_both_health_endpoints(
    sim: SimulatorThread, streamer: Streamer, cloud: LocalCloud
) -> None:
    from aiohttp import web

    from kstock_streamer.main import health_app

    port = free_port()

    async def serve_health() -> web.AppRunner:
        runner = web.AppRunner(health_app(streamer), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    thread = streamer.thread  # type: ignore[attr-defined, unused-ignore]
    runner = thread.run(serve_health())
    ticking, _ = open_client(cloud, user())
    themed, _ = open_client(cloud, user())
    try:
        with ticking, themed:
            subscribe(ticking, ["005930"])
            subscribe(themed, topics=["themes"])  # no symbol at all: told too
            next_tick_of(ticking, sim, "005930", "a tick before the hang")
            with HungKis(sim) as hung:
                for ws in (ticking, themed):
                    told, _ = recv_until(ws, lambda m: m.get("stream") == "stalled", 30, "status stalled")
                    assert told["type"] == "status" and told["since"].endswith("Z")
                code, body = get_json(f"http://127.0.0.1:{port}/health")
                assert code == 503 and body["status"] == "degraded", body
                assert any(p.startswith("KIS feed stalled for") for p in body["problems"]), body["problems"]
                code, body = get_json(f"{cloud.http_url}/health")
                health = body["data"]
                assert code == 503 and health["status"] == "degraded", body
                assert any(p.startswith("streamer: KIS feed stalled for") for p in health["problems"]), body
                assert health["streamer"]["kisStalled"] is True
                hung.release()
                for ws in (ticking, themed):
                    told, _ = recv_until(ws, lambda m: m.get("stream") == "resumed", 30, "status resumed")
                    assert told["type"] == "status"
            next_tick_of(ticking, sim, "005930", "a tick after the hang")
            wait_for(lambda: not streamer.problems(), 30, "the streamer healthy again")
    finally:
        thread.run(runner.cleanup())
