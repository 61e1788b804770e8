"""More than 41 live symbols with several KIS app keys (issue 18 part 5): one ingest streamer per key, the
names shared through the Redis lease registry. Real Redis, the KIS simulator over sockets (it enforces one
session per app key and 41 registrations per session), real streamers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
import redis.asyncio as aioredis
import requests
import websockets
from support.demand import forget_demand
from support.kis import credentials, overridden, run
from support.streamer import StreamerThread, simulator
from support.waiting import wait_for

from kstock import health, keys
from kstock.kis.auth import KisCredentials
from kstock.realtime.metrics import collect
from kstock_streamer.service import Streamer, StreamerOptions
from kstock_streamer.slots import LeaseConflict, SlotLeases

SLOT_KEYS = (
    keys.KIS_SLOT_SESSIONS,
    keys.KIS_SLOT_TOKENS,
    keys.KIS_SLOT_OWNERS,
    *(keys.kis_slot_held(i) for i in range(5)),
)


@pytest.fixture(scope="module")
def sim():
    """A market of exactly 100 trading stocks, each trading a few times a second."""
    thread = simulator(rate=400, universe=100)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def r(services):
    client = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    forget_demand(client, *SLOT_KEYS)
    yield client
    forget_demand(client, *SLOT_KEYS)


def options() -> StreamerOptions:
    return StreamerOptions(default_symbols=[], stable_seconds=0.5, plan_interval=0.2, poll_rate=20, run_writer=False)


def demand(r: redis.Redis, symbols: list[str]) -> None:
    r.hset(keys.DEMAND, mapping=dict.fromkeys(symbols, 1))
    r.hset(keys.DEMAND_USERS, mapping=dict.fromkeys(symbols, 1))
    r.publish(keys.CONTROL_CHANNEL, json.dumps({"op": "demand"}))


def streamed(streamer: Streamer) -> set[str]:
    """The symbols this streamer's KIS session acknowledged."""
    return {tr_key for _tr, tr_key in streamer.websocket.snapshot().subscriptions}


@contextlib.contextmanager
def streamers(sim, services, database, keys_: list[KisCredentials]) -> Iterator[list[StreamerThread]]:
    threads = [
        StreamerThread(
            sim.sim.rest_url,
            sim.sim.ws_url,
            services["REDIS_URL"],
            database,
            options(),
            credentials=creds,
            key_index=index,
            lease_seconds=3.0,
        )
        for index, creds in enumerate(keys_)
    ]
    started: list[StreamerThread] = []
    try:
        for thread in threads:
            thread.__enter__()
            started.append(thread)
        yield started
    finally:
        for thread in reversed(started):
            thread.__exit__(None, None, None)


def test_three_keys_stream_100_symbols_each_once_and_take_over_a_stopped_key(sim, services, database, r):
    symbols = sorted(sim.sim.market.stocks)
    assert len(symbols) == 100
    demand(r, symbols)
    pubsub = r.pubsub()
    pubsub.subscribe(*[keys.realtime_channel(s) for s in symbols])
    with streamers(sim, services, database, [credentials() for _ in range(3)]) as threads:
        live = [t.streamer for t in threads]

        def spread() -> bool:
            held = [streamed(s) for s in live]
            return sum(map(len, held)) == 100 and set().union(*held) == set(symbols) and not any(s.polled for s in live)

        wait_for(spread, 60, "all 100 symbols registered across the three KIS sessions, none polled")
        held = [streamed(s) for s in live]
        assert all(len(h) <= 41 for h in held)
        assert sum(map(len, held)) == len(set().union(*held))  # no symbol on two sessions
        assert [s.planner.streamed for s in live] == held  # each streamer registers exactly what it owns
        owners = r.hgetall(keys.KIS_SLOT_OWNERS)
        assert {name: int(owner) for name, owner in owners.items()} == {
            name: index for index, names in enumerate(held) for name in names
        }
        # the simulator's side: one session per app key, none over 41 registrations
        sessions = sim.call(lambda s: [(x.app_key, len(x.subscriptions)) for x in s.ws.sessions if x.subscriptions])
        assert sorted(n for _key, n in sessions) == sorted(len(h) for h in held)
        assert len({key for key, _n in sessions}) == len(sessions) == 3

        # /ws/metrics counts the slots of every key's session (each reports its status every second)
        def counted() -> bool:
            m = collect()
            return (m.kis_slots_used, m.kis_slots_limit, sorted(m.streamed_symbols), m.polled_symbols) == (
                100,
                123,
                symbols,
                [],
            )

        wait_for(counted, 15, "/ws/metrics: 100 of 123 KIS slots over the three sessions, nothing polled")
        # and so does /health (it read key 0's status only, and said 0 while key 1 held every name)
        wait_for(lambda: health.check().streamer.slots_used == 100, 15, "/health: 100 KIS slots used over the keys")

        # ticks of all 100 arrive on Redis, from the WebSocket feed
        seen: set[str] = set()

        def all_ticked() -> bool:
            while (message := pubsub.get_message(timeout=0.05)) is not None:
                if message["type"] == "message":
                    tick = json.loads(message["data"])
                    if tick["source"] == "ws":
                        seen.add(tick["symbol"])
            return seen == set(symbols)

        wait_for(all_ticked, 60, "a WebSocket tick of every one of the 100 symbols")

        # stop the streamer holding the most: its names go to the others as far as slots allow, the rest polled
        biggest = max(range(3), key=lambda i: len(held[i]))
        stopped = threads.pop(biggest)
        stopped.__exit__(None, None, None)
        rest = [s for i, s in enumerate(live) if i != biggest]
        room = 41 * 2

        def taken_over() -> bool:
            now = [streamed(s) for s in rest]
            polled = [p for s in rest for p in s.polled]
            streaming = set().union(*now)
            return (
                sum(map(len, now)) == len(streaming) == room
                and len(polled) == len(set(polled)) == 100 - room
                and streaming | set(polled) == set(symbols)
                and not streaming & set(polled)
            )

        wait_for(taken_over, 60, f"the survivors stream {room} symbols and poll the other {100 - room} once each")
        assert r.zcard(keys.KIS_SLOT_SESSIONS) == 2  # the stopped one gave its lease up at once
    pubsub.close()


def test_a_streamer_that_cannot_read_demand_keeps_its_lease_and_its_symbols(sim, services, database, r):
    """Demand unknown for a while (Redis hiccup, a registry rebuild failing) or a plan round held up (the
    reconnect snapshot's quotes): the plan stays, and the lease is renewed meanwhile on its own beat, so the
    other keys do not take this session's symbols."""
    symbols = sorted(sim.sim.market.stocks)[:50]
    demand(r, symbols)
    with streamers(sim, services, database, [credentials() for _ in range(2)]) as threads:
        first, second = (t.streamer for t in threads)
        wait_for(
            lambda: len(streamed(first)) + len(streamed(second)) == 50 and streamed(first) and streamed(second),
            60,
            "50 symbols over two sessions",
        )
        held = streamed(first)

        async def unknown() -> None:
            return None

        first._read_demand = unknown  # type: ignore[method-assign]
        expiry = float(r.zscore(keys.KIS_SLOT_SESSIONS, "0"))
        # past the moment the lease would have lapsed without renewals (3 s lease)
        wait_for(lambda: float(r.zscore(keys.KIS_SLOT_SESSIONS, "0") or 0) > expiry + 3_000, 30, "lease renewed")
        assert r.zcard(keys.KIS_SLOT_SESSIONS) == 2
        assert streamed(first) == held and not streamed(first) & streamed(second)
        assert {n for n, owner in r.hgetall(keys.KIS_SLOT_OWNERS).items() if owner == "0"} == held


def test_a_dead_sessions_names_are_freed_after_its_lease_lapses_and_two_processes_never_share_a_key(services, r):
    now = [1_000.0]

    def clock() -> float:
        return now[0]

    async def scenario() -> None:
        client = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
        try:
            a = SlotLeases(client, 0, capacity=3, lease_seconds=5, clock=clock)
            b = SlotLeases(client, 1, capacity=3, lease_seconds=5, clock=clock)
            assert await a.renew() == [0]
            assert await a.claim(["S1", "S2", "S3", "S4"]) == ["S1", "S2", "S3"]  # capacity 3
            assert await b.renew() == [0, 1]
            assert await b.claim(["S1", "S4"]) == ["S4"]  # S1 is A's while A lives
            with pytest.raises(LeaseConflict):  # a second process on key 0
                await SlotLeases(client, 0, capacity=3, lease_seconds=5, clock=clock).renew()
            now[0] += 4
            assert await b.renew() == [0, 1]
            now[0] += 2  # A silent for 6 s > its 5 s lease
            assert await b.renew() == [1]
            assert await b.owners() == {"S4": 1}  # A's names were freed
            assert await b.claim(["S1", "S2", "S3"]) == ["S1", "S2"]  # B's room: 3 - S4
            assert await client.scard(keys.kis_slot_held(0)) == 0
            # A comes back (a long pause, not a crash): it has no lease until it renews, and its names are B's
            assert await a.claim(["S3"]) == []
            assert await a.renew() == [0, 1]
            assert await a.claim(["S1", "S3"]) == ["S3"]
            await b.leave()
            assert await a.owners() == {"S3": 0}
            assert await a.renew() == [0]
        finally:
            await client.aclose()

    run(scenario())


# -- the simulator's per-key rules, driven by plain clients (docs/kis-protocol.md section 11) ---------------


def _approval(base: str, creds: KisCredentials) -> str:
    answer = requests.post(
        f"{base}/oauth2/Approval",
        json={"grant_type": "client_credentials", "appkey": creds.app_key, "secretkey": creds.app_secret},
        timeout=5,
    )
    assert answer.status_code == 200
    return str(answer.json()["approval_key"])


def _register(approval: str, symbol: str) -> str:
    return json.dumps(
        {
            "header": {"approval_key": approval, "custtype": "P", "tr_type": "1", "content-type": "utf-8"},
            "body": {"input": {"tr_id": "H0STCNT0", "tr_key": symbol}},
        }
    )


async def _control(ws: websockets.ClientConnection, payload: str) -> dict[str, Any]:
    """Send a registration; KIS's control answer, data frames and PINGPONG skipped."""
    await ws.send(payload)
    while True:
        raw = await ws.recv()
        if isinstance(raw, str) and raw.startswith("{") and "PINGPONG" not in raw:
            return cast(dict[str, Any], json.loads(raw))


async def _answer(ws: websockets.ClientConnection, payload: str) -> tuple[str, str, str]:
    """(rt_cd, msg_cd, msg1) of the control answer to a registration."""
    body = (await _control(ws, payload))["body"]
    return body["rt_cd"], body["msg_cd"], body["msg1"]


def test_the_simulator_gives_each_app_key_one_session_of_41_and_its_own_rest_budget(sim):
    base, symbols = sim.sim.rest_url, sorted(sim.sim.market.stocks)[:42]
    pool = [credentials() for _ in range(3)]
    approvals = [_approval(base, creds) for creds in pool]

    async def body() -> None:
        async with contextlib.AsyncExitStack() as stack:
            sessions = [await stack.enter_async_context(websockets.connect(sim.sim.ws_url)) for _ in pool]
            for ws, approval in zip(sessions, approvals, strict=True):  # three keys, three sessions of 41 at once
                for symbol in symbols[:41]:
                    assert await _answer(ws, _register(approval, symbol)) == ("0", "OPSP0000", "SUBSCRIBE SUCCESS")
            # the 42nd registration of a session is refused, whatever the other keys hold
            assert await _answer(sessions[1], _register(approvals[1], symbols[41])) == (
                "1",
                "OPSP0008",
                "MAX SUBSCRIBE OVER",
            )
            # a second session on key 0, even with a fresh approval key of the same app key, is refused as a
            # recorded real answer has it: rt_cd 9 and a header naming no TR
            second = await stack.enter_async_context(websockets.connect(sim.sim.ws_url))
            assert await _control(second, _register(_approval(base, pool[0]), symbols[41])) == {
                "header": {"tr_id": "(null)", "tr_key": "", "encrypt": "N"},
                "body": {"rt_cd": "9", "msg_cd": "OPSP8996", "msg1": "ALREADY IN USE appkey"},
            }

    run(body())

    # REST: the per-second budget is counted per app key (EGW00201 for one key, the other still answered)
    tokens = [
        requests.post(
            f"{base}/oauth2/tokenP",
            json={"grant_type": "client_credentials", "appkey": c.app_key, "appsecret": c.app_secret},
            timeout=5,
        ).json()["access_token"]
        for c in pool[:2]
    ]

    def quote(index: int) -> str:
        creds = pool[index]
        answer = requests.get(
            f"{base}/uapi/domestic-stock/v1/quotations/inquire-price",
            params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": symbols[0]},
            headers={
                "authorization": f"Bearer {tokens[index]}",
                "appkey": creds.app_key,
                "appsecret": creds.app_secret,
                "tr_id": "FHKST01010100",
                "custtype": "P",
            },
            timeout=5,
        )
        return str(answer.json()["msg_cd"])

    with overridden(sim, rest_rate_per_second=3):
        first = [quote(0) for _ in range(5)]
        other = quote(1)
    assert "EGW00201" in first and other == "MCA00000"
