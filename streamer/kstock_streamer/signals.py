"""The streamer's indicator worker (seed 000 IndicatorWorker, issue 15): live candles and buy signals for the
watchlist's symbols, published for the WebSocket topic ``signals``.

It listens to the ticks the streamer publishes (``stock:realtime:*``), keeps 1-minute and 5-minute
:class:`~streamer.candles.CandleSeries` for every symbol on the watchlist, and when a candle closes
checks the buy rules:

- ``ema_cross_1m``: a 1-minute close crosses above the 1-minute EMA(20) (the close before was at or
  under the EMA before) while the 1-minute RSI(14) sits between 50 and 70: momentum turning up, not yet
  overbought.
- ``rsi_rebound_5m``: the 5-minute RSI(14) climbs back above 30 from below (an oversold bounce).

Each fire publishes ``{"type":"signal","symbol","rule","price","time"}`` on ``signals:updates``
(``price`` the closing price, ``time`` the candle's close, UTC ISO-8601); the fan-out delivers it to the
connections subscribed to ``signals``. A symbol that leaves the watchlist loses its candles.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as aioredis

from kstock import keys
from kstock_streamer.candles import CandleSeries, Closed

log = logging.getLogger("kstock.streamer.signals")
INTERVALS = {"1m": 60, "5m": 300}
RSI_BAND = (50.0, 70.0)
OVERSOLD = 30.0


def _crossed_above(closed: Closed) -> bool:
    values = (closed.previous_close, closed.previous_ema, closed.ema)
    if any(math.isnan(v) for v in values):
        return False
    return closed.previous_close <= closed.previous_ema and closed.candle.close > closed.ema


def rules(interval: str, closed: Closed) -> list[str]:
    """The buy rules (module docstring) a just-closed candle fires."""
    fired = []
    if interval == "1m" and _crossed_above(closed) and RSI_BAND[0] <= closed.rsi <= RSI_BAND[1]:
        fired.append("ema_cross_1m")
    if interval == "5m" and closed.previous_rsi < OVERSOLD <= closed.rsi:  # NaN compares false
        fired.append("rsi_rebound_5m")
    return fired


@dataclass
class SymbolCandles:
    series: dict[str, CandleSeries] = field(
        default_factory=lambda: {name: CandleSeries(seconds) for name, seconds in INTERVALS.items()}
    )


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class IndicatorWorker:
    """Feeds ticks to the watchlist's candles and publishes the signals they fire."""

    redis: aioredis.Redis
    watchlist: Callable[[], Iterable[str]]
    symbols: dict[str, SymbolCandles] = field(default_factory=dict)
    published: int = 0

    def on_tick(self, tick: dict[str, object]) -> list[dict[str, object]]:
        """Account one tick; the signals it fired (not yet published)."""
        symbol = str(tick.get("symbol"))
        wanted = set(self.watchlist())
        for gone in [s for s in self.symbols if s not in wanted]:
            del self.symbols[gone]
        if symbol not in wanted:
            return []
        candles = self.symbols.setdefault(symbol, SymbolCandles())
        # JSON numbers as published (a malformed one raises, as it always did)
        price, volume = float(cast(float, tick["price"])), int(cast(int, tick.get("volume") or 0))
        epoch = _epoch(str(tick["timestamp"]))
        out: list[dict[str, object]] = []
        for name, series in candles.series.items():
            closed = series.add(price, volume, epoch)
            if closed is None:
                continue
            for rule in rules(name, closed):
                out.append(
                    {
                        "type": "signal",
                        "symbol": symbol,
                        "rule": rule,
                        "price": closed.candle.close,
                        "time": _iso(closed.candle.start + series.interval),
                    }
                )
        return out

    async def publish(self, signals: list[dict[str, object]]) -> None:
        for signal in signals:
            await self.redis.publish(keys.SIGNAL_UPDATES, json.dumps(signal, ensure_ascii=False))
            self.published += 1

    async def run(self) -> None:
        """Listen to every symbol's ticks until cancelled (the streamer restarts it on failure)."""
        pubsub = self.redis.pubsub()
        await pubsub.psubscribe(keys.REALTIME_CHANNEL_PATTERN)
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or message.get("type") != "pmessage":
                    continue
                try:
                    tick = json.loads(message["data"])
                except (TypeError, ValueError):
                    continue
                if isinstance(tick, dict) and tick.get("type") == "tick":
                    await self.publish(self.on_tick(tick))
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # redis-py: unannotated

    def status(self) -> dict[str, object]:
        return {
            "symbols": sorted(self.symbols),
            "signalsPublished": self.published,
            "candles": {s: {n: len(c.closed) for n, c in sc.series.items()} for s, sc in self.symbols.items()},
        }

    def run_forever(self) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self.run())
