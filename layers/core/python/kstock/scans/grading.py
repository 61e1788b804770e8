"""Total score, grade A-D, and the entry, stop and target prices of a scan result.

Total score (0..100), a weighted mean of four parts:

- trend template, 30%: 100 x the rules held / 8 (:mod:`kstock.scans.trend`);
- VCP, 30%: the detector's score, 0 when no pattern (:mod:`kstock.scans.vcp`);
- RS rank, 20%: the rank itself (1..99) as points, 0 without enough history (:mod:`kstock.scans.rs`);
- smart money, 20%: the score (:mod:`kstock.scans.smartmoney`); when it is NaN (investor trend not
  fetched) its weight goes to the other three in proportion, so a missing input neither helps nor hurts.

Grades: **A** total >= 80 with the trend template passed and a VCP found; **B** total >= 65 with the
template passed; **C** total >= 50; **D** otherwise.

Prices, on KRX tick sizes (stocks, KOSPI and KOSDAQ alike since 2023):

- entry: the VCP pivot; without a pattern, the highest high of the last 20 days (the nearest breakout
  level). Rounded up to a tick: a buy stop must clear the level.
- stop: the last contraction's low, but never more than 8% under the entry (a loss is cut at 7-8%); so
  ``max(last_low, 0.92 x entry)``, or ``0.92 x entry`` without a pattern. Rounded down to a tick.
- target: three times the risk above the entry, ``entry + 3 x (entry - stop)``. Rounded down to a tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

WEIGHTS = {"trend": 0.30, "vcp": 0.30, "rs": 0.20, "smart_money": 0.20}
GRADE_A, GRADE_B, GRADE_C = 80.0, 65.0, 50.0
MAX_LOSS = 0.08
REWARD_TO_RISK = 3.0
BREAKOUT_DAYS = 20
# (price below which, tick) for KRX stocks; 1,000 won above the last bound.
KRX_TICKS = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Grades:
    total: FloatArray
    grade: npt.NDArray[np.str_]
    entry: FloatArray
    stop: FloatArray
    target: FloatArray


def krx_tick(price: npt.ArrayLike) -> FloatArray:
    """The KRX price tick for a stock at ``price`` (won)."""
    p = np.asarray(price, dtype=np.float64)
    bounds = np.array([bound for bound, _ in KRX_TICKS], dtype=np.float64)
    ticks = np.array([tick for _, tick in KRX_TICKS] + [1_000], dtype=np.float64)
    return ticks[np.searchsorted(bounds, np.nan_to_num(p), side="right")]


def round_to_tick(price: npt.ArrayLike, *, up: bool) -> FloatArray:
    p = np.asarray(price, dtype=np.float64)
    tick = krx_tick(p)
    steps = np.ceil(p / tick - 1e-9) if up else np.floor(p / tick + 1e-9)
    out: FloatArray = steps * tick
    return out


def total_score(
    trend_count: npt.ArrayLike, vcp_score: npt.ArrayLike, rs_rank: npt.ArrayLike, smart_money: npt.ArrayLike
) -> FloatArray:
    """The weighted total of the module docstring, per symbol."""
    parts = {
        "trend": 100.0 * np.asarray(trend_count, dtype=np.float64) / 8.0,
        "vcp": np.nan_to_num(np.asarray(vcp_score, dtype=np.float64)),
        "rs": np.nan_to_num(np.asarray(rs_rank, dtype=np.float64)),
        "smart_money": np.asarray(smart_money, dtype=np.float64),
    }
    shape = np.broadcast_shapes(*(p.shape for p in parts.values()))
    weighted = np.zeros(shape)
    weight = np.zeros(shape)
    for name, points in parts.items():
        present = ~np.isnan(points)
        weighted += np.where(present, WEIGHTS[name] * points, 0.0)
        weight += np.where(present, WEIGHTS[name], 0.0)
    out: FloatArray = weighted / weight
    return out


def grade(total: npt.ArrayLike, trend_passed: npt.ArrayLike, vcp_detected: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """A, B, C or D per symbol (rules in the module docstring)."""
    t = np.asarray(total, dtype=np.float64)
    passed, found = np.asarray(trend_passed, dtype=bool), np.asarray(vcp_detected, dtype=bool)
    out = np.full(t.shape, "D", dtype="<U1")
    out[t >= GRADE_C] = "C"
    out[(t >= GRADE_B) & passed] = "B"
    out[(t >= GRADE_A) & passed & found] = "A"
    return out


def trade_prices(
    high: npt.ArrayLike, pivot: npt.ArrayLike, last_low: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(entry, stop, target)`` per symbol from daily highs (symbols x days) and the VCP's pivot and low."""
    h = np.asarray(high, dtype=np.float64)
    h = h.reshape(-1, h.shape[-1])
    with np.errstate(invalid="ignore"):
        recent_high = np.fmax.reduce(h[:, -BREAKOUT_DAYS:], axis=1)
    entry = round_to_tick(np.where(np.isnan(pivot), recent_high, pivot), up=True)
    stop = round_to_tick(np.fmax(np.asarray(last_low, dtype=np.float64), (1.0 - MAX_LOSS) * entry), up=False)
    target = round_to_tick(entry + REWARD_TO_RISK * (entry - stop), up=False)
    return entry, stop, target


def grade_all(
    *,
    high: npt.ArrayLike,
    trend_count: npt.ArrayLike,
    trend_passed: npt.ArrayLike,
    vcp_score: npt.ArrayLike,
    vcp_detected: npt.ArrayLike,
    pivot: npt.ArrayLike,
    last_low: npt.ArrayLike,
    rs_rank: npt.ArrayLike,
    smart_money: npt.ArrayLike,
) -> Grades:
    total = total_score(trend_count, vcp_score, rs_rank, smart_money)
    entry, stop, target = trade_prices(high, pivot, last_low)
    return Grades(total=total, grade=grade(total, trend_passed, vcp_detected), entry=entry, stop=stop, target=target)
