"""Live candles and signals (issue 15, seed 000 IndicatorWorker): candles from ticks, incremental EMA and RSI
equal to kstock.indicators on the same closes, buy rules checked against the batch functions. (Signals through
real Redis to the fan-out's ``signals`` topic: tests/integration/test_live_signals_redis.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from support.signals import START, epoch, oracle, ticks

from kstock.indicators import ema, rsi
from kstock_streamer.candles import CandleSeries
from kstock_streamer.signals import IndicatorWorker


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
