"""Shape handling and the shared machinery of the indicators: windows, seeds and recursions over a panel.

Every public indicator accepts a float array of any shape with time on the last axis (one series, or
symbols x days) and works on it as rows: ``(rows, days)``. A row may start late (leading NaNs: a
company listed after the panel's first day); as TA-Lib's own Python wrapper does, each row is computed
from its first valid position, so the warm-up NaNs sit at ``start + lookback``. An interior NaN is not a
price: running sums and recursions carry it forward (as TA-Lib's C code does), so fill gaps first.

Recursions (EMA, Wilder) loop over time with one vector operation across all rows per step: 260
steps for a year of daily bars, whatever the number of symbols. Never a Python loop per symbol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Step = Callable[[FloatArray, FloatArray, FloatArray], None]


def as_rows(*inputs: npt.ArrayLike) -> tuple[list[FloatArray], tuple[int, ...]]:
    """The inputs as float64 ``(rows, days)`` arrays of one common shape, and that shape to restore."""
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    shape = arrays[0].shape
    if not shape:
        raise ValueError("an indicator needs a series (an array with time on its last axis), not a scalar")
    for other in arrays[1:]:
        if other.shape != shape:
            raise ValueError(f"inputs must share one shape, got {shape} and {other.shape}")
    days = shape[-1]
    return [np.ascontiguousarray(a.reshape(-1, days)) for a in arrays], shape


def check_period(name: str, value: int, minimum: int = 2) -> None:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def first_valid(*rows: FloatArray) -> IntArray:
    """Per row, the first position where every input is a number; the row length when there is none."""
    valid = np.ones(rows[0].shape, dtype=bool)
    for r in rows:
        valid &= ~np.isnan(r)
    days = rows[0].shape[1]
    starts: IntArray = np.where(valid.any(axis=1), valid.argmax(axis=1), days).astype(np.intp)
    return starts


def before(starts: IntArray, days: int) -> npt.NDArray[np.bool_]:
    """Mask of the positions before each row's ``starts`` (``starts`` may exceed the row length)."""
    return np.arange(days)[None, :] < starts[:, None]


def blank_before(values: FloatArray, starts: IntArray) -> FloatArray:
    """``values`` with NaN before each row's ``starts`` (in place, returned for chaining)."""
    values[before(starts, values.shape[1])] = np.nan
    return values


def rolling_mean(x: FloatArray, period: int, starts: IntArray) -> FloatArray:
    """Mean of the ``period`` values ending at each position, NaN before ``starts + period - 1``.

    A cumulative sum of the deviations from each row's first value keeps the subtraction of two large
    running totals away (prices in won reach 10^6; a year of them sums to 10^8).
    """
    rows, days = x.shape
    out = np.full((rows, days), np.nan)
    if days < period:
        return out
    lead = before(starts, days)
    reference = np.take_along_axis(x, np.minimum(starts, days - 1)[:, None], axis=1)
    deviation = np.where(lead, 0.0, x - reference)
    totals = np.zeros((rows, days + 1))
    np.cumsum(deviation, axis=1, out=totals[:, 1:])
    out[:, period - 1 :] = (totals[:, period:] - totals[:, :-period]) / period + reference
    return blank_before(out, starts + period - 1)


def rolling_extreme(x: FloatArray, period: int, starts: IntArray, *, highest: bool) -> FloatArray:
    """Highest (or lowest) of the ``period`` values ending at each position, NaN before the first full window.

    Sparse-table doubling: the extreme over 2w days is the extreme of two w-day extremes, and a window
    of any length is covered by two overlapping power-of-two windows; log2(period) passes over the panel.
    """
    rows, days = x.shape
    out = np.full((rows, days), np.nan)
    if days < period:
        return out
    pick = np.maximum if highest else np.minimum
    span, table = 1, x
    while span * 2 <= period:
        wider = table.copy()
        pick(table[:, span:], table[:, :-span], out=wider[:, span:])
        span, table = span * 2, wider
    rest = period - span
    out[:, period - 1 :] = pick(table[:, period - 1 :], table[:, period - 1 - rest : days - rest])
    return blank_before(out, starts + period - 1)


def window_sum_at(x: FloatArray, period: int, ends: IntArray) -> FloatArray:
    """Sum of the ``period`` values ending at ``ends`` per row, added left to right as TA-Lib seeds do.

    Rows whose window does not fit (``ends`` past the row, or before ``period - 1``) get NaN.
    """
    rows, days = x.shape
    fits = (ends < days) & (ends >= period - 1)
    first = np.clip(ends - period + 1, 0, max(days - 1, 0))
    total = np.zeros(rows)
    if days == 0:
        return np.full(rows, np.nan)
    for offset in range(period):
        total += np.take_along_axis(x, np.minimum(first + offset, days - 1)[:, None], axis=1)[:, 0]
    return np.where(fits, total, np.nan)


def recurse(values: FloatArray, seeds: FloatArray, seed_at: IntArray, step: Step) -> FloatArray:
    """Run a one-state recursion over time for every row at once.

    Row ``r`` holds ``seeds[r]`` at position ``seed_at[r]``; each later position applies
    ``step(state, value, scratch)``, which updates ``state`` in place from that day's ``values``.
    Positions before a row's seed are NaN, and so is a row whose seed lies past its end.
    """
    rows, days = values.shape
    out = np.full((days, rows), np.nan)
    seeded = seed_at < days
    if not seeded.any():
        return np.ascontiguousarray(out.T)
    by_time = np.ascontiguousarray(values.T)
    groups: dict[int, IntArray] = {}
    for t in np.unique(seed_at[seeded]):
        groups[int(t)] = np.flatnonzero(seed_at == t)
    state = np.full(rows, np.nan)
    scratch = np.empty(rows)
    first = min(groups)
    for t in range(first, days):
        if t > first:
            step(state, by_time[t], scratch)
        members = groups.get(t)
        if members is not None:
            state[members] = seeds[members]
        out[t] = state
    return np.ascontiguousarray(out.T)


def ema_step(k: float) -> Step:
    """TA-Lib's EMA update, ``prev = ((x - prev) * k) + prev``, in that order for equal rounding."""

    def step(state: FloatArray, value: FloatArray, scratch: FloatArray) -> None:
        np.subtract(value, state, out=scratch)
        scratch *= k
        state += scratch

    return step


def wilder_step(period: int) -> Step:
    """Wilder's smoothing as TA-Lib writes it: ``prev = (prev * (period - 1) + x) / period``."""

    def step(state: FloatArray, value: FloatArray, scratch: FloatArray) -> None:
        state *= period - 1
        state += value
        state /= period

    return step


def seeded_ema(x: FloatArray, period: int, seed_at: IntArray, k: float | None = None) -> FloatArray:
    """EMA seeded at ``seed_at`` with the simple mean of the ``period`` values ending there."""
    seeds = window_sum_at(x, period, seed_at) / period
    return recurse(x, seeds, seed_at, ema_step(2.0 / (period + 1) if k is None else k))


def restore(shape: tuple[int, ...], *arrays: FloatArray) -> Sequence[FloatArray]:
    return [a.reshape(shape) for a in arrays]
