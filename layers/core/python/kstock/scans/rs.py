"""Relative strength (RS) rank: where a symbol's weighted 12-month return stands in the scanned universe.

The weighted return is built from four quarters of 63 trading days, newest first:
``0.4 * q1 + 0.2 * q2 + 0.2 * q3 + 0.2 * q4``, where ``q1 = close[t] / close[t-63] - 1`` is the last
quarter's own return, ``q2 = close[t-63] / close[t-126] - 1`` the one before, and so on back to
``close[t-252]``. A symbol needs 253 closes; with fewer (or a missing or non-positive close on one of the
five days used) its weighted return and rank are NaN.

The rank is a percentile from 1 to 99 (99 the strongest, as IBD prints it): the share of the universe
with a lower weighted return, ties counting half, times 100, floored and held within 1..99. A universe
of one ranks 50. Chunked scans compute weighted returns per chunk and rank each chunk against the whole
universe's returns with :func:`rank_against`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

QUARTER = 63
WEIGHTS = (0.4, 0.2, 0.2, 0.2)  # newest quarter first
FloatArray = npt.NDArray[np.float64]


def weighted_return(close: npt.ArrayLike) -> FloatArray:
    """Weighted 12-month return per symbol at the last day (symbols x days in, one value per symbol out)."""
    c = np.asarray(close, dtype=np.float64)
    rows = c.reshape(-1, c.shape[-1])
    days = rows.shape[1]
    out: FloatArray = np.full(rows.shape[0], np.nan)
    needed = QUARTER * len(WEIGHTS)
    if days <= needed:
        return out.reshape(c.shape[:-1])
    points = rows[:, [days - 1 - QUARTER * q for q in range(len(WEIGHTS) + 1)]]  # t, t-63, ..., t-252
    usable = (points > 0).all(axis=1)  # NaN compares false as well
    with np.errstate(divide="ignore", invalid="ignore"):
        quarters = points[:, :-1] / points[:, 1:] - 1.0
    # Term by term rather than a matrix product: BLAS may block rows differently for a chunk and for the
    # whole universe, and a chunk must reproduce the universe's numbers bit for bit to rank the same.
    weighted: FloatArray = sum((w * quarters[:, q] for q, w in enumerate(WEIGHTS)), start=np.zeros(rows.shape[0]))
    out = np.where(usable, weighted, np.nan)
    return out.reshape(c.shape[:-1])


def rank_against(scores: npt.ArrayLike, universe: npt.ArrayLike) -> FloatArray:
    """RS rank (1..99) of each of ``scores`` within ``universe`` (both weighted returns; NaNs ignored)."""
    s = np.asarray(scores, dtype=np.float64)
    pool = np.sort(np.asarray(universe, dtype=np.float64).ravel())
    pool = pool[~np.isnan(pool)]
    out = np.full(s.shape, np.nan)
    if pool.size == 0:
        return out
    below = np.searchsorted(pool, s, side="left")
    equal = np.searchsorted(pool, s, side="right") - below
    share = (below + 0.5 * equal) / pool.size
    ranked = np.clip(np.floor(share * 100.0), 1.0, 99.0)
    return np.where(np.isnan(s), np.nan, ranked)


def rs_rank(close: npt.ArrayLike) -> FloatArray:
    """RS rank (1..99) of every symbol of a panel within that panel; NaN without 253 days of closes."""
    scores = weighted_return(close)
    return rank_against(scores, scores)
