"""Volatility contraction pattern (VCP) detector over a panel, as of the last day.

Swings (a zigzag on daily highs and lows over the last ``base_days``, default 126 trading days): the
walk starts looking for a swing high. While it looks for a high it tracks the highest high since the
last swing low; a day whose low is ``swing_pct`` (default 3%) or more below that high confirms it as a
swing high, and the walk turns to look for a low: the lowest low since, confirmed as a swing low by a
day whose high is ``swing_pct`` or more above it. The reversal is judged against the extreme before the
day, then the day may extend the extreme. Highs and lows therefore alternate, starting with a high. If
the walk is still falling on the last day, the lowest low so far closes the contraction in progress.

A contraction is a swing high and the swing low after it; its depth is ``(high - low) / high``. The
pattern is the longest run of the last 4, 3 or 2 contractions in which:

- each contraction is shallower than the one before it;
- the first of them is 8% to 35% deep;
- volume dries up in the last one: its mean daily volume (from its high to the last day) is below
  ``dry_up`` (default 0.8) x the mean daily volume of the pattern before it;
- the last close is within 15% of the 52-week high (the highest high of the last 252 days);

and the pivot, the buy point, is the last contraction's high. Rows with a missing bar in the window are
not judged (not detected).

Score (0 when not detected, else 40 to 100): 40, plus 10 per contraction beyond two (up to 20), plus up
to 20 for a tight last contraction (20 at 3% deep or less, 0 at 10% or more), plus up to 10 for the
dry-up (10 when volume fell to 40% or less), plus up to 10 for the close's nearness to the pivot (10 at
or above it, 0 when 10% or more below).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BASE_DAYS = 126
YEAR = 252
MAX_CONTRACTIONS = 4
FIRST_DEPTH = (0.08, 0.35)
NEAR_HIGH = 0.85
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Vcp:
    """One entry per symbol. ``depths`` (symbols x 4) holds the pattern's contraction depths, oldest
    first and right-aligned (NaN before); ``last_low`` is the last contraction's low (a stop reference)."""

    detected: BoolArray
    score: FloatArray
    pivot: FloatArray
    contractions: npt.NDArray[np.int64]
    depths: FloatArray
    last_low: FloatArray
    volume_ratio: FloatArray


@dataclass(frozen=True)
class Swings:
    """The last ``k`` swing highs and the lows after them, right-aligned (slot k-1 is the latest)."""

    high: FloatArray
    high_at: IntArray
    low: FloatArray
    low_at: IntArray


def swings(high: FloatArray, low: FloatArray, swing_pct: float, keep: int) -> Swings:
    """The zigzag of the module docstring over ``(symbols, days)`` highs and lows, one time loop."""
    rows, days = high.shape
    is_high = np.zeros((rows, days), dtype=bool)
    is_low = np.zeros((rows, days), dtype=bool)
    price = np.zeros((rows, days))
    rising = np.ones(rows, dtype=bool)
    extreme = high[:, 0].copy()
    extreme_at = np.zeros(rows, dtype=np.intp)
    down_by, up_by = 1.0 - swing_pct, 1.0 + swing_pct
    for t in range(1, days):
        hi, lo = high[:, t], low[:, t]
        top = rising & (lo <= extreme * down_by)
        bottom = ~rising & (hi >= extreme * up_by)
        turned = top | bottom
        if turned.any():
            which = np.flatnonzero(turned)
            at = extreme_at[which]
            price[which, at] = extreme[which]
            is_high[which, at] = top[which]
            is_low[which, at] = bottom[which]
            extreme = np.where(top, lo, np.where(bottom, hi, extreme))
            extreme_at[turned] = t
            rising ^= turned
        grow = rising & ~turned & (hi > extreme)
        sink = ~rising & ~turned & (lo < extreme)
        moved = grow | sink
        extreme = np.where(grow, hi, np.where(sink, lo, extreme))
        extreme_at[moved] = t
    falling = np.flatnonzero(~rising)  # the contraction in progress ends at its lowest low so far
    price[falling, extreme_at[falling]] = extreme[falling]
    is_low[falling, extreme_at[falling]] = True
    high_values, high_at = _last(is_high, price, keep)
    low_values, low_at = _last(is_low, price, keep)
    return Swings(high=high_values, high_at=high_at, low=low_values, low_at=low_at)


def _last(mask: BoolArray, values: FloatArray, keep: int) -> tuple[FloatArray, IntArray]:
    """The last ``keep`` marked values of each row and their positions, right-aligned, NaN/-1 padded."""
    rows = mask.shape[0]
    from_end = np.cumsum(mask[:, ::-1], axis=1)[:, ::-1]
    chosen = mask & (from_end <= keep)
    row, col = np.nonzero(chosen)
    slot = keep - from_end[row, col]
    out = np.full((rows, keep), np.nan)
    at = np.full((rows, keep), -1, dtype=np.intp)
    out[row, slot] = values[row, col]
    at[row, slot] = col
    return out, at


def _window_mean(cumulative: FloatArray, start: IntArray, stop: IntArray) -> FloatArray:
    """Mean of positions ``start`` .. ``stop - 1`` per row from a cumulative sum with a leading zero."""
    take = np.take_along_axis
    total = take(cumulative, np.maximum(stop, 0)[:, None], axis=1)[:, 0]
    total -= take(cumulative, np.maximum(start, 0)[:, None], axis=1)[:, 0]
    count = stop - start
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def detect_vcp(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    *,
    base_days: int = BASE_DAYS,
    swing_pct: float = 0.03,
    dry_up: float = 0.8,
) -> Vcp:
    """Detect the pattern for every symbol (rows of symbols x days arrays). Rules in the module docstring."""
    h, lo, c, v = (np.asarray(a, dtype=np.float64) for a in (high, low, close, volume))
    h, lo, c, v = (a.reshape(-1, a.shape[-1]) for a in (h, lo, c, v))
    rows, days = c.shape
    span = min(base_days, days)
    wh, wl, wv = h[:, -span:], lo[:, -span:], v[:, -span:]
    complete = ~(np.isnan(wh).any(axis=1) | np.isnan(wl).any(axis=1) | np.isnan(wv).any(axis=1))
    keep = MAX_CONTRACTIONS + 1
    found = swings(np.nan_to_num(wh), np.nan_to_num(wl), swing_pct, keep)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (found.high - found.low) / found.high

    # The longest qualifying run of the last n contractions, n = 4, 3, 2.
    shrinking = depth[:, 1:] < depth[:, :-1]  # slot j shallower than slot j - 1
    count: npt.NDArray[np.int64] = np.zeros(rows, dtype=np.int64)
    for n in range(MAX_CONTRACTIONS, 1, -1):
        first = depth[:, keep - n]
        fits = shrinking[:, keep - n :].all(axis=1) & (first >= FIRST_DEPTH[0]) & (first <= FIRST_DEPTH[1])
        count = np.where((count == 0) & fits, n, count)

    cumulative = np.zeros((rows, span + 1))
    np.cumsum(np.nan_to_num(wv), axis=1, out=cumulative[:, 1:])
    last_high_at = found.high_at[:, -1]
    first_high_at = np.take_along_axis(found.high_at, np.clip(keep - count, 0, keep - 1)[:, None], axis=1)[:, 0]
    ratio = _window_mean(cumulative, last_high_at, np.full(rows, span)) / _window_mean(
        cumulative, first_high_at, last_high_at
    )

    last = c[:, -1]
    with np.errstate(invalid="ignore"):
        high_52w = np.fmax.reduce(h[:, -min(YEAR, days) :], axis=1)
    near_high = last >= NEAR_HIGH * high_52w
    detected = complete & (count >= 2) & (ratio < dry_up) & near_high
    pivot = np.where(detected, found.high[:, -1], np.nan)

    depths = np.full((rows, MAX_CONTRACTIONS), np.nan)
    for n in range(2, MAX_CONTRACTIONS + 1):
        chosen = detected & (count == n)
        depths[np.ix_(chosen, range(MAX_CONTRACTIONS - n, MAX_CONTRACTIONS))] = depth[chosen][:, keep - n :]
    score = _score(detected, count, depth[:, -1], ratio, last, pivot)
    return Vcp(
        detected=detected,
        score=score,
        pivot=pivot,
        contractions=np.where(detected, count, 0),
        depths=depths,
        last_low=np.where(detected, found.low[:, -1], np.nan),
        volume_ratio=ratio,
    )


def _score(
    detected: BoolArray,
    count: npt.NDArray[np.int64],
    last_depth: FloatArray,
    ratio: FloatArray,
    last: FloatArray,
    pivot: FloatArray,
) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        points = (
            40.0
            + 10.0 * np.clip(count - 2, 0, 2)
            + 20.0 * np.clip((0.10 - last_depth) / 0.07, 0.0, 1.0)
            + 10.0 * np.clip((0.8 - ratio) / 0.4, 0.0, 1.0)
            + 10.0 * np.clip(1.0 - (pivot - last) / pivot / 0.10, 0.0, 1.0)
        )
    return np.where(detected, points, 0.0)
