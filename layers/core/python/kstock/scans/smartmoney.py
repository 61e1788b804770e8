"""Smart-money score: how hard foreigners and institutions have been net buying, from KIS's investor trend.

Inputs are daily arrays (symbols x days, newest last, at least 20 days): foreign net buying, institution
net buying (both in shares, negative for net selling) and the day's traded volume in shares, as KIS's
investor endpoint and the daily bars give them.

- flow5 and flow20: foreign + institution net buying over the last 5 and 20 days, as a share of the
  volume traded over those days (so a large cap and a small cap compare).
- base: ``0.6 x flow5 + 0.4 x flow20`` (the last week weighs more), mapped linearly onto 0..100 with 50
  for no net flow; +-10% of the traded volume or more saturates the scale (0 or 100).
- agreement: +10 when foreigners and institutions both net bought over the 5 days, -10 when both sold.

The score is held within 0..100. NaN when fewer than 20 days are given, a value is missing, or nothing
traded over the 20 days.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SHORT, LONG = 5, 20
SATURATES_AT = 0.10
AGREEMENT = 10.0
FloatArray = npt.NDArray[np.float64]


def flow(net: FloatArray, volume: FloatArray, days: int) -> FloatArray:
    """Net buying over the last ``days`` as a share of the volume traded then (NaN for no volume)."""
    traded = volume[:, -days:].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(traded > 0, net[:, -days:].sum(axis=1) / traded, np.nan)


def smart_money_score(foreign_net: npt.ArrayLike, institution_net: npt.ArrayLike, volume: npt.ArrayLike) -> FloatArray:
    """The score (0..100, 50 neutral) per symbol; rules in the module docstring."""
    f, i, v = (np.asarray(a, dtype=np.float64) for a in (foreign_net, institution_net, volume))
    if not f.shape == i.shape == v.shape:
        raise ValueError(f"inputs must share one shape, got {f.shape}, {i.shape} and {v.shape}")
    f, i, v = (a.reshape(-1, a.shape[-1]) for a in (f, i, v))
    if f.shape[1] < LONG:
        return np.full(f.shape[0], np.nan).reshape(np.shape(foreign_net)[:-1])
    both = f + i
    base = 0.6 * flow(both, v, SHORT) + 0.4 * flow(both, v, LONG)
    score = 50.0 + 50.0 * np.clip(base / SATURATES_AT, -1.0, 1.0)
    foreign5, institution5 = f[:, -SHORT:].sum(axis=1), i[:, -SHORT:].sum(axis=1)
    score += np.where((foreign5 > 0) & (institution5 > 0), AGREEMENT, 0.0)
    score -= np.where((foreign5 < 0) & (institution5 < 0), AGREEMENT, 0.0)
    score = np.clip(score, 0.0, 100.0)
    return score.reshape(np.shape(foreign_net)[:-1])
