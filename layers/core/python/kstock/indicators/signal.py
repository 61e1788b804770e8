"""The combined indicator signal: one vote per indicator and a score from -100 to 100 with a label.

Votes, every day (+1 buy, -1 sell, 0 neutral; NaN while the indicator is still warming up):

- ``sma``: close above its 20-day SMA buys, below sells (price on the right side of the trend).
- ``ema``: the 20-day EMA rising from the day before buys, falling sells (the trend's direction).
- ``rsi``: RSI(14) under 30 buys (oversold), over 70 sells (overbought).
- ``macd``: the MACD(12, 26, 9) histogram above zero buys (MACD over its signal line), below sells.
- ``bollinger``: close under the lower band (20, 2.0) buys, over the upper band sells (stretched).
- ``stochastic``: slow %K under 20 and above %D buys (turning up while oversold), over 80 and under %D
  sells (turning down while overbought).
- ``obv``: OBV above its 20-day SMA buys (volume accumulating), below sells.
- ``atr``: a close more than one ATR(14) (the day before's) above the previous close buys (a volatility
  breakout), more than one ATR below it sells.

The score is 100 x the mean of the votes cast (NaN when none is), so every indicator weighs the same and
eight agreeing votes give +-100. Labels: score >= 50 strong buy, >= 20 buy, > -20 neutral, > -50 sell,
else strong sell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kstock.indicators._rows import FloatArray, as_rows
from kstock.indicators.averages import bollinger, ema, macd, sma
from kstock.indicators.momentum import rsi, stochastic
from kstock.indicators.volatility import atr
from kstock.indicators.volume import obv

LABELS = ("strong sell", "sell", "neutral", "buy", "strong buy")
# Lower edges of buy and strong buy; sell and strong sell mirror them (strictly below their negatives).
BUY_AT, STRONG_BUY_AT = 20.0, 50.0


@dataclass(frozen=True)
class Signal:
    """Votes and score with the input's shape; ``labels`` is an array of strings of that shape."""

    votes: dict[str, FloatArray]
    score: FloatArray
    labels: npt.NDArray[np.str_]


def label(score: float) -> str:
    """The label of one score (NaN, no vote cast, is neutral)."""
    if np.isnan(score):
        return "neutral"
    if score >= STRONG_BUY_AT:
        return "strong buy"
    if score >= BUY_AT:
        return "buy"
    if score > -BUY_AT:
        return "neutral"
    if score > -STRONG_BUY_AT:
        return "sell"
    return "strong sell"


def _vote(buy: npt.NDArray[np.bool_], sell: npt.NDArray[np.bool_], defined: npt.NDArray[np.bool_]) -> FloatArray:
    out = np.where(buy, 1.0, np.where(sell, -1.0, 0.0))
    out[~defined] = np.nan
    return out


def _previous(x: FloatArray) -> FloatArray:
    out = np.full_like(x, np.nan)
    out[..., 1:] = x[..., :-1]
    return out


def votes(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, volume: npt.ArrayLike
) -> dict[str, FloatArray]:
    """Each indicator's vote per day (rules in the module docstring)."""
    (h, lo, c, v), shape = as_rows(high, low, close, volume)
    out: dict[str, FloatArray] = {}
    average = sma(c, 20)
    out["sma"] = _vote(c > average, c < average, ~np.isnan(average))
    trend = ema(c, 20)
    before = _previous(trend)
    out["ema"] = _vote(trend > before, trend < before, ~np.isnan(before))
    strength = rsi(c, 14)
    out["rsi"] = _vote(strength < 30, strength > 70, ~np.isnan(strength))
    hist = macd(c)[2]
    out["macd"] = _vote(hist > 0, hist < 0, ~np.isnan(hist))
    upper, _, lower = bollinger(c, 20, 2.0)
    out["bollinger"] = _vote(c < lower, c > upper, ~np.isnan(upper))
    k, d = stochastic(h, lo, c)
    out["stochastic"] = _vote((k < 20) & (k > d), (k > 80) & (k < d), ~np.isnan(d))
    balance = obv(c, v)
    balance_average = sma(balance, 20)
    out["obv"] = _vote(balance > balance_average, balance < balance_average, ~np.isnan(balance_average))
    range_before = _previous(atr(h, lo, c, 14))
    move = c - _previous(c)
    out["atr"] = _vote(move > range_before, move < -range_before, ~np.isnan(range_before + move))
    return {name: vote.reshape(shape) for name, vote in out.items()}


def signal(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, volume: npt.ArrayLike) -> Signal:
    """Every indicator's vote and the combined score and label, per day (per symbol and day for a panel)."""
    cast = votes(high, low, close, volume)
    stacked = np.stack(list(cast.values()))
    counted = (~np.isnan(stacked)).sum(axis=0)
    total = np.nansum(stacked, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(counted > 0, 100.0 * total / counted, np.nan)
    labels = np.full(score.shape, "neutral", dtype="<U11")
    labels[score >= BUY_AT] = "buy"
    labels[score >= STRONG_BUY_AT] = "strong buy"
    labels[score <= -BUY_AT] = "sell"
    labels[score <= -STRONG_BUY_AT] = "strong sell"
    return Signal(votes=cast, score=score, labels=labels)
