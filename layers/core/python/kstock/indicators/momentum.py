"""Oscillators: RSI and the slow stochastic (TA-Lib definitions)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kstock.indicators._rows import (
    FloatArray,
    as_rows,
    blank_before,
    check_period,
    first_valid,
    recurse,
    rolling_extreme,
    rolling_mean,
    wilder_step,
    window_sum_at,
)


def rsi(close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Relative strength index, 100 * avg_gain / (avg_gain + avg_loss), with Wilder's smoothing.

    The averages are seeded with the simple means of the first ``period`` gains and losses, so the first
    value sits at ``period`` (TA-Lib's RSI with its unstable period at the default 0). A window with
    neither gains nor losses (a flat run from the start) gives 0, as TA-Lib does, not 50. After a move,
    a flat run keeps the last ratio: both averages decay by the same factor and never reach zero.
    """
    check_period("period", period)
    (x,), shape = as_rows(close)
    starts = first_valid(x)
    change = np.full_like(x, np.nan)
    change[:, 1:] = x[:, 1:] - x[:, :-1]
    gains = np.where(change > 0, change, 0.0)
    losses = np.where(change < 0, -change, 0.0)
    gains[np.isnan(change)] = np.nan
    losses[np.isnan(change)] = np.nan
    seed_at = starts + period
    step = wilder_step(period)
    avg_gain = recurse(gains, window_sum_at(gains, period, seed_at) / period, seed_at, step)
    avg_loss = recurse(losses, window_sum_at(losses, period, seed_at) / period, seed_at, step)
    total = avg_gain + avg_loss
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total == 0.0, 0.0, 100.0 * (avg_gain / total))
    out[np.isnan(total)] = np.nan
    return out.reshape(shape)


def stochastic(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, fastk: int = 14, slowk: int = 3, slowd: int = 3
) -> tuple[FloatArray, FloatArray]:
    """The slow stochastic ``(slow_k, slow_d)`` as TA-Lib's STOCH with SMA smoothing computes it.

    fast %K = (close - lowest low) / ((highest high - lowest low) / 100) over ``fastk`` days, 0 when the
    range is empty; slow %K is its ``slowk``-day SMA and slow %D the ``slowd``-day SMA of slow %K. Both
    outputs start at ``fastk - 1 + slowk - 1 + slowd - 1`` (17 by default).
    """
    check_period("fastk", fastk, minimum=1)
    check_period("slowk", slowk, minimum=1)
    check_period("slowd", slowd, minimum=1)
    (h, lo, c), shape = as_rows(high, low, close)
    starts = first_valid(h, lo, c)
    highest = rolling_extreme(h, fastk, starts, highest=True)
    lowest = rolling_extreme(lo, fastk, starts, highest=False)
    scale = (highest - lowest) / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        fast = np.where(scale != 0.0, (c - lowest) / scale, 0.0)
    fast[np.isnan(scale)] = np.nan
    fast_from = starts + fastk - 1
    slow_k = rolling_mean(fast, slowk, fast_from)
    slow_d = rolling_mean(slow_k, slowd, fast_from + slowk - 1)
    blank_before(slow_k, fast_from + slowk - 1 + slowd - 1)
    return slow_k.reshape(shape), slow_d.reshape(shape)
