"""One scan over a panel of daily bars: indicators' signal, RS rank, trend template, VCP, smart money, grade.

The pure-function pieces live in their modules; this composes them as a scan worker does for its chunk
of symbols (rows), all vectorised across the rows. When a scan is split into chunks, pass the whole
universe's weighted returns (:func:`kstock.scans.rs.weighted_return` per chunk, gathered first) as
``universe_returns`` so every chunk ranks against the same universe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kstock.indicators import signal
from kstock.scans.grading import Grades, grade_all
from kstock.scans.rs import rank_against, weighted_return
from kstock.scans.smartmoney import smart_money_score
from kstock.scans.trend import TrendTemplate, trend_template
from kstock.scans.vcp import Vcp, detect_vcp

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Bars:
    """Daily bars of a panel, symbols x days, oldest day first; NaN before a symbol's listing."""

    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    @classmethod
    def of(cls, high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, volume: npt.ArrayLike) -> Bars:
        arrays = [np.atleast_2d(np.asarray(a, dtype=np.float64)) for a in (high, low, close, volume)]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 2:
            raise ValueError(f"bars must be four symbols x days arrays of one shape, got {[a.shape for a in arrays]}")
        return cls(*arrays)


@dataclass(frozen=True)
class InvestorFlows:
    """KIS investor trend per symbol and day (shares, newest last), with the same days' volume."""

    foreign_net: FloatArray
    institution_net: FloatArray
    volume: FloatArray


@dataclass(frozen=True)
class Analysis:
    """Per symbol (row): the last day's indicator signal, RS, trend template, VCP, smart money and grade."""

    signal_score: FloatArray
    signal_label: npt.NDArray[np.str_]
    rs_return: FloatArray
    rs_rank: FloatArray
    trend: TrendTemplate
    vcp: Vcp
    smart_money: FloatArray
    grades: Grades


def analyse(
    bars: Bars, *, universe_returns: npt.ArrayLike | None = None, flows: InvestorFlows | None = None
) -> Analysis:
    """Everything a scan reports for each symbol of ``bars``, as of its last day."""
    combined = signal(bars.high, bars.low, bars.close, bars.volume)
    returns = weighted_return(bars.close)
    rank = rank_against(returns, returns if universe_returns is None else universe_returns)
    trend = trend_template(bars.close, bars.high, bars.low, rank)
    pattern = detect_vcp(bars.high, bars.low, bars.close, bars.volume)
    rows = bars.close.shape[0]
    money = (
        np.full(rows, np.nan)
        if flows is None
        else smart_money_score(flows.foreign_net, flows.institution_net, flows.volume)
    )
    grades = grade_all(
        high=bars.high,
        trend_count=trend.count,
        trend_passed=trend.passed,
        vcp_score=pattern.score,
        vcp_detected=pattern.detected,
        pivot=pattern.pivot,
        last_low=pattern.last_low,
        rs_rank=rank,
        smart_money=money,
    )
    return Analysis(
        signal_score=combined.score[:, -1],
        signal_label=combined.labels[:, -1],
        rs_return=returns,
        rs_rank=rank,
        trend=trend,
        vcp=pattern,
        smart_money=money,
        grades=grades,
    )
