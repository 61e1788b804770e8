"""Moving averages and the indicators built on them: SMA, EMA, MACD, Bollinger bands (TA-Lib definitions)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kstock.indicators._rows import (
    FloatArray,
    as_rows,
    blank_before,
    check_period,
    first_valid,
    rolling_mean,
    seeded_ema,
)


def sma(close: npt.ArrayLike, period: int = 20) -> FloatArray:
    """Simple moving average of the last ``period`` values. Lookback ``period - 1``."""
    check_period("period", period)
    (x,), shape = as_rows(close)
    return rolling_mean(x, period, first_valid(x)).reshape(shape)


def ema(close: npt.ArrayLike, period: int = 20) -> FloatArray:
    """Exponential moving average, k = 2 / (period + 1), seeded with the SMA of the first ``period`` values.

    Lookback ``period - 1`` (TA-Lib's default compatibility, not MetaStock's first-value seed).
    """
    check_period("period", period)
    (x,), shape = as_rows(close)
    return seeded_ema(x, period, first_valid(x) + period - 1).reshape(shape)


def macd(
    close: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(macd, signal, hist)`` as TA-Lib's MACD computes and aligns them.

    Both EMAs start on the same day, ``slow - 1``: the slow one seeded with the mean of the first
    ``slow`` values, the fast one with the mean of the ``fast`` values ending that day (not of the
    first ``fast`` values). The signal line is an EMA of the MACD line seeded with the mean of its first
    ``signal`` values; all three outputs begin at ``slow - 1 + signal - 1`` (33 by default).
    A ``slow`` shorter than ``fast`` is swapped, as TA-Lib does.
    """
    check_period("fast", fast)
    check_period("slow", slow)
    check_period("signal", signal, minimum=1)
    if slow < fast:
        fast, slow = slow, fast
    (x,), shape = as_rows(close)
    both_from = first_valid(x) + slow - 1
    line = seeded_ema(x, fast, both_from) - seeded_ema(x, slow, both_from)
    out_from = both_from + signal - 1
    signal_line = seeded_ema(line, signal, out_from)
    blank_before(line, out_from)
    hist = line - signal_line
    return line.reshape(shape), signal_line.reshape(shape), hist.reshape(shape)


def bollinger(close: npt.ArrayLike, period: int = 20, k: float = 2.0) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(upper, middle, lower)``: the SMA plus and minus ``k`` population standard deviations.

    A variance that rounds to zero or below gives bands equal to the middle, as in TA-Lib (no square
    root of a negative rounding error).
    """
    check_period("period", period)
    (x,), shape = as_rows(close)
    starts = first_valid(x)
    middle = rolling_mean(x, period, starts)
    # Variance from deviations against the window's own mean would need a second pass per window;
    # E[(x - m)^2] = E[x^2] - m^2 on values already near each other is exact enough (see rolling_mean).
    reference = np.take_along_axis(x, np.minimum(starts, max(x.shape[1] - 1, 0))[:, None], axis=1)
    shifted = x - reference
    mean_square = rolling_mean(shifted * shifted, period, starts)
    mean_shift = middle - reference
    variance = mean_square - mean_shift * mean_shift
    deviation = np.where(variance <= 0.0, 0.0, np.sqrt(np.maximum(variance, 0.0)))
    deviation[np.isnan(variance)] = np.nan
    upper = middle + k * deviation
    lower = middle - k * deviation
    return upper.reshape(shape), middle.reshape(shape), lower.reshape(shape)
