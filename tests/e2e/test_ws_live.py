"""Live prices end to end over real sockets: the production WebSocket handlers on the local cloud,
the KIS simulator, the streamer with its fan-out, Redis and moto's DynamoDB."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest
import websockets
from support.live import SYMBOLS, TICK_KEYS, emit, open_client, recv_json, recv_until, state, subscribe, token
from support.waiting import patient, wait_for, wait_for_async
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from kstock import keys
from kstock_streamer.fanout import Fanout, FanoutOptions

# -- the path -----------------------------------------------------------------------------------------


def test_subscribed_client_receives_the_simulators_trades_as_prd_ticks(sim, streamer, cloud, r):
    pubsub = r.pubsub()
    pubsub.subscribe(keys.realtime_channel("005930"))
    ws, cid = open_client(cloud)
    with ws:
        subscribe(ws, ["005930"])
        wait_for(lambda: cid in streamer.fanout.subscribers("005930"), 10, "fan-out index has the client")
        emit(sim, "005930", 3)
        acc, price = state(sim, "005930")
        tick, earlier = recv_until(ws, lambda m: m.get("accVolume") == acc, 10, "the forced trade's tick")
        assert set(tick) == TICK_KEYS and tick["type"] == "tick" and tick["symbol"] == "005930"
        assert tick["price"] == price and tick["source"] == "ws" and tick["timestamp"].endswith("Z")
        assert all(m["type"] == "tick" and m["symbol"] == "005930" for m in earlier)
        # what the client got is exactly what the streamer published on Redis, in the same order
        published: list[dict] = []

        def published_up_to_the_trade():
            message = pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message":
                published.append(json.loads(message["data"]))
            return published and published[-1]["accVolume"] == acc

        wait_for(published_up_to_the_trade, 10, "the trade on Redis")
        got = [*earlier, tick]
        assert published[-len(got) :] == got
    pubsub.close()


@pytest.mark.parametrize("query", ["", "?token=garbage"])
def test_missing_or_invalid_token_is_refused_at_connect(cloud, query):
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{cloud.ws_url}{query}", open_timeout=15)
    assert refused.value.response.status_code == 401


def test_unsubscribe_stops_the_flow(sim, streamer, cloud):
    ws, cid = open_client(cloud)
    with ws:
        subscribe(ws, ["005930", "000660"])
        emit(sim, "005930")
        recv_until(ws, lambda m: m.get("symbol") == "005930", 10, "a tick")
        ws.send(json.dumps({"action": "unsubscribe", "symbols": ["005930"]}))
        recv_until(ws, lambda m: m["type"] == "unsubscribed", 10, "unsubscribe ack")
        wait_for(lambda: cid not in streamer.fanout.subscribers("005930"), 10, "fan-out index updated")
        # one connection's messages arrive in order: a 000660 tick published after these 005930
        # trades proves no 005930 tick is still coming
        emit(sim, "005930", 3)
        emit(sim, "000660")
        acc, _ = state(sim, "000660")
        _, before = recv_until(ws, lambda m: m.get("symbol") == "000660" and m["accVolume"] >= acc, 10, "000660")
        assert not [m for m in before if m.get("symbol") == "005930"]


def test_vanished_client_is_removed_after_the_first_410(sim, streamer, cloud, r):
    from kstock.realtime import registry

    ws, cid = open_client(cloud)
    with ws:
        subscribe(ws, ["035420"])
        wait_for(lambda: cid in streamer.fanout.subscribers("035420"), 10, "indexed")
        demand = int(r.hget(keys.DEMAND, "035420"))
        # The client disappears and its $disconnect never reaches us (AWS does not promise it).
        disconnect = cloud.websocket.routes.pop("$disconnect")
        try:
            ws.close()
            wait_for(lambda: cid not in cloud.websocket.connections, 10, "the gateway dropped the socket")
        finally:
            cloud.websocket.routes["$disconnect"] = disconnect
    assert registry.get(cid) is not None
    gone = streamer.fanout.stats.gone

    def answered_gone() -> bool:
        # a trade now and then until the 410: one trade alone can meet a busy machine's failed call and its
        # back-off; after the 410 the connection is out of the index, so no further trade makes a second one
        emit(sim, "035420")
        return streamer.fanout.stats.gone > gone

    wait_for(answered_gone, 10, "a 410 from @connections", interval=0.5)
    assert streamer.fanout.stats.gone == gone + 1
    assert cid not in streamer.fanout.subscribers("035420") and cid not in streamer.fanout.connections
    # META goes first (its conditional delete decides who owns the removal), then the subscriptions
    wait_for(
        lambda: (
            registry.get(cid) is None
            and registry.subscriptions(cid)[0] == []
            and cid not in registry.subscribers_of("035420")
        ),
        10,
        "the registry forgot it",
    )
    wait_for(lambda: int(r.hget(keys.DEMAND, "035420") or 0) == demand - 1, 10, "demand released once")


@pytest.mark.parametrize(
    "raw, code, words",
    [
        ("not json", "INVALID_REQUEST", "JSON"),
        ('{"action":"dance"}', "INVALID_REQUEST", "unknown action"),
        ('{"action":"subscribe","symbols":["1234567890"]}', "INVALID_REQUEST", "K-OTC"),
        ('{"action":"subscribe","symbols":["005930","!!x"]}', "INVALID_REQUEST", "!!x"),
        ('{"action":"subscribe","symbols":"005930"}', "INVALID_REQUEST", "symbols"),
        ('{"action":"subscribe"}', "MISSING_FIELD", "symbols"),
        ('{"action":"subscribe","topics":["weather"]}', "INVALID_REQUEST", "weather"),
        ('{"action":"subscribe","symbols":["005930"],"mode":"fast"}', "INVALID_REQUEST", "mode"),
        ('{"action":"subscribe","symbols":["005930"],"mode":"batch","windowMs":1}', "INVALID_REQUEST", "windowMs"),
        (
            json.dumps({"action": "subscribe", "symbols": [f"{i:06d}" for i in range(9)]}),
            "INVALID_REQUEST",
            "at most 8",
        ),
    ],
)
def test_bad_input_gets_an_error_and_the_socket_stays_usable(streamer, cloud, raw, code, words):
    ws, _ = open_client(cloud)
    with ws:
        ws.send(raw)
        reply = recv_json(ws, 15)
        assert reply["type"] == "error" and reply["code"] == code and words in reply["message"], reply
        ws.send(json.dumps({"action": "ping"}))
        assert recv_json(ws, 15) == {"type": "pong"}
        assert subscribe(ws, ["000660"])["symbols"] == ["000660"]


def test_subscribe_is_idempotent_and_demand_counts_each_subscription_once(streamer, cloud, r):
    from kstock.realtime import registry

    ws, cid = open_client(cloud)
    with ws:
        before = int(r.hget(keys.DEMAND, "051910") or 0)
        for _ in range(3):  # a client (or a retried invocation) repeating itself
            assert subscribe(ws, ["051910", "A051910"])["symbols"] == ["051910"]
        assert int(r.hget(keys.DEMAND, "051910")) == before + 1
        assert registry.subscriptions(cid)[0] == ["051910"] and cid in registry.subscribers_of("051910")
        for _ in range(2):
            ws.send(json.dumps({"action": "unsubscribe", "symbols": ["051910"]}))
            recv_until(ws, lambda m: m["type"] == "unsubscribed", 10, "ack")
        assert int(r.hget(keys.DEMAND, "051910") or 0) == before
    wait_for(lambda: registry.get(cid) is None, 10, "$disconnect")


def test_batch_mode_sends_the_latest_tick_per_symbol_at_most_once_per_window(sim, streamer, cloud, r):
    ws, cid = open_client(cloud)
    with ws:
        reply = subscribe(ws, ["005930", "000660"], mode="batch", windowMs=300)
        assert reply["mode"] == "batch" and reply["windowMs"] == 300
        wait_for(lambda: cid in streamer.fanout.subscribers("000660"), 10, "indexed")
        started = time.monotonic()
        for _ in range(4):
            emit(sim, "005930", 5)
            emit(sim, "000660", 5)
        last = {s: state(sim, s)[0] for s in ("005930", "000660")}
        messages, newest = [], {}
        while any(newest.get(s, 0) < acc for s, acc in last.items()):
            message = recv_json(ws, 10)
            assert message["type"] == "ticks", message
            messages.append((time.monotonic(), message))
            for tick in message["data"]:
                assert set(tick) == TICK_KEYS and tick["symbol"] in last
                newest[tick["symbol"]] = tick["accVolume"]
        for _, message in messages:  # one tick per symbol: the latest of each, never an older one
            symbols = [t["symbol"] for t in message["data"]]
            assert len(symbols) == len(set(symbols))
        # 40 trades became a handful of messages, no more than one per window (and a first at once)
        elapsed = messages[-1][0] - started
        assert len(messages) <= 2 + elapsed / 0.3, (len(messages), elapsed)
        assert streamer.fanout.connections[cid].mode == "batch"


def test_theme_updates_reach_the_themes_topic_only(sim, streamer, cloud, r):
    themed, cid = open_client(cloud)
    plain, _ = open_client(cloud)
    with themed, plain:
        subscribe(themed, topics=["themes"])
        subscribe(plain, ["006400"])
        wait_for(lambda: cid in streamer.fanout.by_topic.get("themes", {}), 10, "topic indexed")
        r.publish(keys.THEME_UPDATES, json.dumps({"themes": [{"name": "2차전지", "members": ["006400"]}]}))
        update = recv_json(themed, 10)
        assert update == {"type": "theme_update", "themes": [{"name": "2차전지", "members": ["006400"]}]}
        # the fan-out handles its channels in order: a tick published after the update, reaching
        # the plain client with no update before it, shows the update was not sent there
        emit(sim, "006400")
        acc, _ = state(sim, "006400")
        _, before = recv_until(plain, lambda m: m.get("accVolume") == acc, 10, "the 006400 tick")
        assert all(m["type"] in ("tick", "subscribed") for m in before)


def test_a_new_fanout_rebuilds_its_index_from_the_registry(streamer, cloud):
    ws, cid = open_client(cloud)
    with ws:
        subscribe(ws, ["005380", "005930"], mode="batch", windowMs=500)
        subscribe(ws, topics=["themes"])
        wait_for(lambda: cid in streamer.fanout.subscribers("005380"), 10, "indexed")

        async def rebuilt():
            fresh = Fanout(streamer.redis, FanoutOptions())
            task = asyncio.create_task(fresh.run())
            try:
                await asyncio.wait_for(fresh.ready.wait(), 15)
                return (
                    {s: set(c) for s, c in fresh.by_symbol.items()},
                    fresh.connections.get(cid),
                    set(fresh.by_topic.get("themes", {})),
                )
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await fresh.close()

        index, conn, themed = streamer.thread.run(rebuilt())
        assert cid in index["005380"] and cid in index["005930"] and cid in themed
        assert conn.mode == "batch" and conn.window == 0.5
        live = {s: set(c) for s, c in streamer.fanout.by_symbol.items()}
        assert index == live


def test_ws_metrics_report_the_fanout(streamer, cloud, api, sim):
    ws, _ = open_client(cloud)
    with ws:
        subscribe(ws, ["005930"])
        emit(sim, "005930")
        recv_until(ws, lambda m: m.get("type") == "tick", 10, "a tick")

        def reported():
            status, body, _ = api("GET", "/ws/metrics")
            assert status == 200, body
            data = body["data"]
            return data if data["streamerRunning"] and data["connections"] >= 1 and data["calls"]["tick"] else None

        data = wait_for(reported, 10, "metrics")
        assert data["subscriptionsPerSymbol"]["005930"] >= 1 and data["messages"]["tick"] >= 1
        assert data["oneByOne"]["tick"] >= data["calls"]["tick"] - data["themeUpdates"]
        assert data["kisSlotsLimit"] == 41 and data["kisSlotsUsed"] >= len(SYMBOLS)
        assert data["lastBroadcastTime"].endswith("Z") and isinstance(data["polledSymbols"], list)
        assert {"gone", "throttled", "connectionsByMode", "streamedSymbols"} <= set(data)


# -- many clients ---------------------------------------------------------------------------------------


def _drain_published(pubsub) -> dict[str, list[dict]]:
    """Every tick the streamer published on the symbols' channels, per symbol, in order."""
    published: dict[str, list[dict]] = {s: [] for s in SYMBOLS}
    while (message := pubsub.get_message(timeout=0.2)) is not None:
        if message["type"] == "message":
            tick = json.loads(message["data"])
            published[tick["symbol"]].append(tick)
    pubsub.close()
    return published


def test_200_clients_each_receive_exactly_their_symbols_in_order(sim, streamer, cloud, r):
    rng = random.Random(6)
    wanted = [sorted(rng.sample(SYMBOLS, rng.randint(1, 3))) for _ in range(200)]
    received: list[dict[str, list[dict]]] = [{} for _ in wanted]
    pubsub = r.pubsub()
    pubsub.subscribe(*[keys.realtime_channel(s) for s in SYMBOLS])

    async def client(i: int, gate: asyncio.Semaphore, ready: asyncio.Event, done: asyncio.Event) -> None:
        async with gate:
            ws = await websockets.connect(
                f"{cloud.ws_url}?token={token(1000 + i)}", open_timeout=patient(20), max_queue=None
            )
            await ws.send(json.dumps({"action": "subscribe", "symbols": wanted[i]}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), patient(20)))
                if message["type"] == "subscribed":
                    break
                received[i].setdefault(message["symbol"], []).append(message)
        ready.set()
        async with ws:
            while not done.is_set():
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                except TimeoutError:
                    continue
                assert message["type"] == "tick", message
                received[i].setdefault(message["symbol"], []).append(message)

    async def scenario() -> None:
        gate, done = asyncio.Semaphore(20), asyncio.Event()
        readies = [asyncio.Event() for _ in wanted]
        tasks = [asyncio.create_task(client(i, gate, readies[i], done)) for i in range(len(wanted))]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), patient(60))
            await wait_for_async(
                lambda: sum(len(streamer.fanout.subscribers(s)) for s in SYMBOLS) >= sum(map(len, wanted)),
                15,
                "all subscriptions indexed",
            )
            for _ in range(3):
                for symbol in SYMBOLS:
                    await asyncio.to_thread(emit, sim, symbol, 2)
            last = {s: await asyncio.to_thread(state, sim, s) for s in SYMBOLS}
            await wait_for_async(
                lambda: all(
                    got.get(s) and got[s][-1]["accVolume"] >= last[s][0]
                    for got, symbols in zip(received, wanted, strict=True)
                    for s in symbols
                ),
                20,
                "every client's last tick of each of its symbols",
            )
        finally:
            done.set()
            await asyncio.gather(*tasks)

    asyncio.run(scenario())
    published = _drain_published(pubsub)
    for got, symbols in zip(received, wanted, strict=True):
        assert set(got) == set(symbols)  # no leaks across subscriptions
        for symbol, ticks in got.items():
            # in order and complete: exactly what the streamer published for the symbol from the
            # client's first tick to its last (the market kept trading after the clients left)
            stream = published[symbol]
            end = len(stream) - stream[::-1].index(ticks[-1])
            assert ticks == stream[end - len(ticks) : end]
            assert len(ticks) >= 6
