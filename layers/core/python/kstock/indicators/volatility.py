"""Average true range (TA-Lib definition)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kstock.indicators._rows import FloatArray, as_rows, check_period, first_valid, recurse, wilder_step, window_sum_at


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """The greatest of high - low, |previous close - high| and |previous close - low|; NaN on the first day."""
    (h, lo, c), shape = as_rows(high, low, close)
    return _true_range(h, lo, c).reshape(shape)


def _true_range(h: FloatArray, lo: FloatArray, c: FloatArray) -> FloatArray:
    out = np.full_like(h, np.nan)
    previous = c[:, :-1]
    out[:, 1:] = np.maximum(h[:, 1:] - lo[:, 1:], np.maximum(np.abs(previous - h[:, 1:]), np.abs(previous - lo[:, 1:])))
    return out


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Average true range with Wilder's smoothing, seeded with the mean of the first ``period`` true ranges
    (days 1..period, the first day having no previous close), so the first value sits at ``period``.
    """
    check_period("period", period)
    (h, lo, c), shape = as_rows(high, low, close)
    ranges = _true_range(h, lo, c)
    seed_at = first_valid(h, lo, c) + period
    seeds = window_sum_at(ranges, period, seed_at) / period
    return recurse(ranges, seeds, seed_at, wilder_step(period)).reshape(shape)
