"""Live candles and signals (issue 15, seed 000 IndicatorWorker): candles from ticks, incremental EMA and RSI
equal to kstock.indicators on the same closes, buy rules checked against the batch functions, signals
published through real Redis and delivered by the fan-out to the ``signals`` topic only."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import numpy as np
import pytest
import redis.asyncio as aioredis
from support.waiting import patient

from kstock import keys
from kstock.indicators import ema, rsi
from kstock.realtime.session import TOPICS
from kstock_streamer.candles import CandleSeries
from kstock_streamer.fanout import OK, Fanout, FanoutOptions
from kstock_streamer.signals import OVERSOLD, RSI_BAND, IndicatorWorker

START = 1_767_225_600  # 2026-01-01T00:00:00Z


def ticks(seed: int, minutes: int = 400, per_minute: int = 6) -> list[dict[str, object]]:
    """A random walk of trades at random seconds, whole won, some flat stretches."""
    rng = np.random.default_rng(seed)
    out, price = [], 50_000.0
    for minute in range(minutes):
        for second in sorted(rng.choice(60, per_minute, replace=False)):
            if not 100 <= minute < 130:  # a flat half hour: RSI's no-move case
                price = max(100.0, round(price * (1 + rng.normal(0, 0.004)), -1))
            epoch = START + minute * 60 + int(second)
            out.append(
                {
                    "type": "tick",
                    "symbol": "005930",
                    "price": price,
                    "volume": int(rng.integers(1, 50)),
                    "timestamp": datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z"),
                }
            )
    return out


def epoch(tick: dict[str, object]) -> float:
    return datetime.fromisoformat(str(tick["timestamp"]).replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("interval", [60, 300])
def test_candles_and_incremental_ema_rsi_equal_the_batch_functions(interval):
    series = CandleSeries(interval, keep=10_000)
    emas, rsis = [], []
    feed = ticks(1)
    for tick in feed:
        closed = series.add(float(tick["price"]), int(tick["volume"]), epoch(tick))
        if closed is not None:
            emas.append(closed.ema)
            rsis.append(closed.rsi)
    candles = list(series.closed)
    expected: dict[int, list[dict[str, object]]] = {}
    for tick in feed:
        expected.setdefault(int(epoch(tick)) // interval * interval, []).append(tick)
    starts = sorted(expected)[:-1]  # the last candle is still open
    assert [c.start for c in candles] == starts
    for candle in candles:
        group = expected[candle.start]
        prices = [float(t["price"]) for t in group]
        assert (candle.open, candle.high, candle.low, candle.close) == (prices[0], max(prices), min(prices), prices[-1])
        assert candle.volume == sum(int(t["volume"]) for t in group)
    closes = np.array([c.close for c in candles])
    np.testing.assert_allclose(emas, ema(closes, 20), rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(rsis, rsi(closes, 14), rtol=1e-9, atol=1e-9, equal_nan=True)
    assert np.isnan(emas[18]) and not np.isnan(emas[19]) and np.isnan(rsis[13]) and not np.isnan(rsis[14])


def test_a_late_tick_changes_no_closed_candle():
    series = CandleSeries(60)
    series.add(100.0, 1, START + 5)
    series.add(110.0, 1, START + 65)  # closes the first candle
    assert series.add(1.0, 99, START + 10) is None
    assert series.closed[-1].low == 100.0 and series.closed[-1].volume == 1


def oracle(feed: list[dict[str, object]]) -> list[tuple[str, float, str]]:
    """The signals the rules give on the batch indicators of the closed candles' closes."""
    out = []
    for name, interval in (("1m", 60), ("5m", 300)):
        groups: dict[int, float] = {}
        for tick in feed:
            groups[int(epoch(tick)) // interval * interval] = float(tick["price"])
        starts = sorted(groups)[:-1]
        closes = np.array([groups[s] for s in starts])
        e, r = ema(closes, 20), rsi(closes, 14)
        for i in range(1, len(closes)):
            when = datetime.fromtimestamp(starts[i] + interval, UTC).isoformat(timespec="seconds")
            when = when.replace("+00:00", "Z")
            if name == "1m" and closes[i - 1] <= e[i - 1] and closes[i] > e[i] and RSI_BAND[0] <= r[i] <= RSI_BAND[1]:
                out.append(("ema_cross_1m", closes[i], when))
            if name == "5m" and r[i - 1] < OVERSOLD <= r[i]:
                out.append(("rsi_rebound_5m", closes[i], when))
    return sorted(out, key=lambda s: (s[2], s[0]))


def test_the_worker_fires_exactly_the_rules_on_the_batch_indicators():
    feed = ticks(7, minutes=900)
    worker = IndicatorWorker(redis=None, watchlist=lambda: ["005930"])  # type: ignore[arg-type]
    fired = [s for tick in feed for s in worker.on_tick(tick)]
    assert fired and all(
        set(s) == {"type", "symbol", "rule", "price", "time"} and s["type"] == "signal" and s["symbol"] == "005930"
        for s in fired
    )
    got = sorted(((str(s["rule"]), float(s["price"]), str(s["time"])) for s in fired), key=lambda s: (s[2], s[0]))
    assert got == oracle(feed)
    assert IndicatorWorker(redis=None, watchlist=lambda: []).on_tick(feed[0]) == []  # type: ignore[arg-type]


def test_a_symbol_leaving_the_watchlist_loses_its_candles():
    listed = ["005930"]
    worker = IndicatorWorker(redis=None, watchlist=lambda: listed)  # type: ignore[arg-type]
    for tick in ticks(3, minutes=5):
        worker.on_tick(tick)
    assert worker.status()["symbols"] == ["005930"]
    listed.clear()
    worker.on_tick(ticks(4, minutes=1)[0])
    assert worker.status()["symbols"] == []


def test_signals_go_through_redis_to_the_signals_topic_only(services):
    feed = ticks(7, minutes=900)
    expected = oracle(feed)

    async def scenario():
        client = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
        listener = client.pubsub()
        await listener.subscribe(keys.SIGNAL_UPDATES)
        worker = IndicatorWorker(client, lambda: ["005930"])
        task = asyncio.create_task(worker.run())
        try:
            probe = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
            # the worker's subscription is in place once a publish reaches one subscriber besides ours
            deadline = asyncio.get_running_loop().time() + patient(10)
            while await probe.publish(keys.realtime_channel("000000"), "{}") < 1:
                assert asyncio.get_running_loop().time() < deadline, "the worker never subscribed"
                await asyncio.sleep(0.05)
            for tick in feed:
                await probe.publish(keys.realtime_channel("005930"), json.dumps(tick))
            received = []
            deadline = asyncio.get_running_loop().time() + patient(15)
            while len(received) < len(expected) and asyncio.get_running_loop().time() < deadline:
                message = await listener.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message:
                    received.append(json.loads(message["data"]))
            await probe.aclose()
            return received
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await listener.aclose()
            await client.aclose()

    received = asyncio.run(scenario())
    assert sorted(((s["rule"], s["price"], s["time"]) for s in received), key=lambda s: (s[2], s[0])) == expected

    class Recording(Fanout):
        def __init__(self):
            super().__init__(redis=None, options=FanoutOptions())
            self.bodies: list[tuple[str, bytes]] = []

        async def _post(self, conn, body):
            self.bodies.append((conn.id, body))
            return OK

    async def deliver():
        fanout = Recording()
        for cid, topics in (("signals-client", ["signals"]), ("themes-client", ["themes"])):
            fanout._control(
                json.dumps(
                    {
                        "event": "subscribe",
                        "connectionId": cid,
                        "domainName": "127.0.0.1:1",
                        "stage": "Prod",
                        "mode": "tick",
                        "symbols": [],
                        "topics": topics,
                    }
                )
            )
        fanout._dispatch(["message", keys.SIGNAL_UPDATES, json.dumps(received[0])])
        deadline = asyncio.get_running_loop().time() + patient(5)
        while not fanout.bodies and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        return fanout

    fanout = asyncio.run(deliver())
    assert "signals" in TOPICS
    assert [(cid, json.loads(body)) for cid, body in fanout.bodies] == [("signals-client", received[0])]
    assert fanout.stats.signals == 1
