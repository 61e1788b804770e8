"""The trend template: Minervini's eight rules for a stage-2 uptrend, per symbol, as of the panel's last day.

1. ``close_above_sma150_and_sma200``: close > SMA150 and close > SMA200.
2. ``sma150_above_sma200``: SMA150 > SMA200.
3. ``sma200_rising``: SMA200 today > SMA200 20 trading days ago.
4. ``sma50_above_sma150_and_sma200``: SMA50 > SMA150 and SMA50 > SMA200.
5. ``close_above_sma50``: close > SMA50.
6. ``above_52w_low_by_30pct``: close >= 1.30 x the 52-week low.
7. ``within_25pct_of_52w_high``: close >= 0.75 x the 52-week high.
8. ``rs_rank_at_least_70``: RS rank (:mod:`kstock.scans.rs`) >= 70.

The 52-week range is the lowest low and highest high of the last 252 trading days (lows and highs of the
day, not closes; a symbol with less history uses what it has, at least 200 days since rule 3 needs 219).
A rule that lacks the history to be judged fails: a symbol listed six months ago cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

YEAR = 252
RISING_OVER = 20
RULES = (
    "close_above_sma150_and_sma200",
    "sma150_above_sma200",
    "sma200_rising",
    "sma50_above_sma150_and_sma200",
    "close_above_sma50",
    "above_52w_low_by_30pct",
    "within_25pct_of_52w_high",
    "rs_rank_at_least_70",
)
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrendTemplate:
    """``rules[name]`` is one boolean per symbol; ``passed`` is their conjunction, ``count`` how many hold."""

    rules: dict[str, BoolArray]
    passed: BoolArray
    count: npt.NDArray[np.int64]


def _mean_ending(close: FloatArray, period: int, ago: int = 0) -> FloatArray:
    """SMA of ``period`` closes ending ``ago`` days before the last; NaN when any of them is missing."""
    days = close.shape[1]
    end = days - ago
    if end < period:
        return np.full(close.shape[0], np.nan)
    mean: FloatArray = close[:, end - period : end].mean(axis=1)
    return mean


def trend_template(
    close: npt.ArrayLike, high: npt.ArrayLike, low: npt.ArrayLike, rs_rank: npt.ArrayLike
) -> TrendTemplate:
    """The eight rules for each symbol (rows of symbols x days arrays; ``rs_rank`` one value per symbol)."""
    c, h, lo = (np.asarray(a, dtype=np.float64) for a in (close, high, low))
    c, h, lo = (a.reshape(-1, a.shape[-1]) for a in (c, h, lo))
    rank = np.asarray(rs_rank, dtype=np.float64).reshape(-1)
    last = c[:, -1]
    sma50, sma150, sma200 = (_mean_ending(c, p) for p in (50, 150, 200))
    sma200_before = _mean_ending(c, 200, RISING_OVER)
    recent = slice(max(c.shape[1] - YEAR, 0), None)
    with np.errstate(invalid="ignore"):  # all-NaN rows give NaN extremes, and NaN fails every rule
        low_52w = np.fmin.reduce(lo[:, recent], axis=1)
        high_52w = np.fmax.reduce(h[:, recent], axis=1)
    enough = np.count_nonzero(~np.isnan(c[:, recent]), axis=1) >= 200
    rules = {
        "close_above_sma150_and_sma200": (last > sma150) & (last > sma200),
        "sma150_above_sma200": sma150 > sma200,
        "sma200_rising": sma200 > sma200_before,
        "sma50_above_sma150_and_sma200": (sma50 > sma150) & (sma50 > sma200),
        "close_above_sma50": last > sma50,
        "above_52w_low_by_30pct": enough & (last >= 1.30 * low_52w),
        "within_25pct_of_52w_high": enough & (last >= 0.75 * high_52w),
        "rs_rank_at_least_70": rank >= 70,
    }
    stacked = np.stack([rules[name] for name in RULES])
    passed: BoolArray = np.all(stacked, axis=0, keepdims=False)
    return TrendTemplate(rules=rules, passed=passed, count=stacked.sum(axis=0).astype(np.int64))
