"""Live candles from ticks, with EMA and RSI updated one closed candle at a time (seed 000's IndicatorWorker).

A candle covers ``[start, start + interval)`` in UTC seconds (1 and 5 minutes: KST is a whole number of
hours ahead, so the boundaries are KST's too). A tick in a later bucket closes the current candle; a tick
older than the current candle (a late poll) is ignored. Indicators read closed candles only: an open
candle's close still moves.

The incremental EMA and RSI are TA-Lib's definitions, as :mod:`kstock.indicators` computes them in
batch, written as recursions with the same operations in the same order, so over the same closes they
give the same numbers (the tests hold them to 1e-9): the EMA is seeded with the mean of the first
``period`` closes and then ``prev + (x - prev) * k``; RSI seeds Wilder's averages with the simple means of
the first ``period`` gains and losses and then ``(prev * (period - 1) + x) / period``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

NAN = float("nan")


class IncrementalEma:
    def __init__(self, period: int = 20) -> None:
        self.period = period
        self.k = 2.0 / (period + 1)
        self._seed: list[float] = []
        self.value = NAN

    def update(self, x: float) -> float:
        if math.isnan(self.value):
            self._seed.append(x)
            if len(self._seed) == self.period:
                self.value = sum(self._seed) / self.period
        else:
            self.value = (x - self.value) * self.k + self.value
        return self.value


class IncrementalRsi:
    def __init__(self, period: int = 14) -> None:
        self.period = period
        self._previous = NAN
        self._gains: list[float] = []
        self._losses: list[float] = []
        self.avg_gain = NAN
        self.avg_loss = NAN
        self.value = NAN

    def update(self, close: float) -> float:
        previous, self._previous = self._previous, close
        if math.isnan(previous):
            return self.value
        change = close - previous
        gain, loss = (change if change > 0 else 0.0), (-change if change < 0 else 0.0)
        if math.isnan(self.avg_gain):
            self._gains.append(gain)
            self._losses.append(loss)
            if len(self._gains) < self.period:
                return self.value
            self.avg_gain = sum(self._gains) / self.period
            self.avg_loss = sum(self._losses) / self.period
        else:
            n = self.period
            self.avg_gain = (self.avg_gain * (n - 1) + gain) / n
            self.avg_loss = (self.avg_loss * (n - 1) + loss) / n
        total = self.avg_gain + self.avg_loss
        self.value = 0.0 if total == 0.0 else 100.0 * (self.avg_gain / total)
        return self.value


@dataclass
class Candle:
    start: int  # UTC epoch seconds
    open: float
    high: float
    low: float
    close: float
    volume: int

    def wire(self) -> dict[str, float | int]:
        return {
            "time": self.start,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
        }


@dataclass(frozen=True)
class Closed:
    """A candle that just closed, with the indicators after it and before it (for crossings)."""

    candle: Candle
    ema: float
    rsi: float
    previous_close: float
    previous_ema: float
    previous_rsi: float


class CandleSeries:
    """One symbol's candles of one interval, the last ``keep`` closed ones kept for charts."""

    def __init__(self, interval: int, ema_period: int = 20, rsi_period: int = 14, keep: int = 240) -> None:
        self.interval = interval
        self.current: Candle | None = None
        self.closed: deque[Candle] = deque(maxlen=keep)
        self.ema = IncrementalEma(ema_period)
        self.rsi = IncrementalRsi(rsi_period)

    def add(self, price: float, volume: int, epoch: float) -> Closed | None:
        """Account one tick; the candle it closed (with the indicators), if any."""
        start = int(epoch // self.interval) * self.interval
        current = self.current
        if current is not None and start < current.start:
            return None  # late tick: its candle is closed already
        if current is not None and start == current.start:
            current.high, current.low = max(current.high, price), min(current.low, price)
            current.close = price
            current.volume += volume
            return None
        self.current = Candle(start, price, price, price, price, volume)
        return self._close(current) if current is not None else None

    def _close(self, candle: Candle) -> Closed:
        before_close = self.closed[-1].close if self.closed else NAN
        before_ema, before_rsi = self.ema.value, self.rsi.value
        self.closed.append(candle)
        return Closed(
            candle, self.ema.update(candle.close), self.rsi.update(candle.close), before_close, before_ema, before_rsi
        )
