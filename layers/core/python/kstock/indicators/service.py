"""``GET /companies/{id}/indicators``: a company's indicator series, latest values and combined signal.

Computed from the stored daily bars (``ohlcv_1d``). The indicators are recursions seeded on the first
bars, so they run over every stored bar up to ``end`` and only the answer is cut to ``[start, end]``:
the values of a window never depend on where the window starts (a chart zoomed in shows the same RSI).
NaN (an indicator still warming up) is null on the wire.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from kstock import db
from kstock.errors import InvalidRequest, NotFound
from kstock.indicators import atr, bollinger, ema, macd, obv, rsi, signal, signal_label, sma, stochastic
from kstock.schemas import CamelModel

Interval = Literal["1d"]
DEFAULT_SPAN = timedelta(days=365)
MAX_SPAN = timedelta(days=366 * 30)
SERIES = (
    "sma",
    "ema",
    "rsi",
    "macd",
    "macd_signal",
    "macd_hist",
    "bollinger_upper",
    "bollinger_middle",
    "bollinger_lower",
    "stoch_k",
    "stoch_d",
    "obv",
    "atr",
)


class IndicatorPoint(CamelModel):
    """One day: its close and every indicator at their defaults (null while warming up)."""

    time: int = Field(description="Bucket start (00:00 KST of the trading day), unix seconds.")
    close: float
    sma: float | None = Field(description="SMA(20) of the close.")
    ema: float | None = Field(description="EMA(20), seeded with the SMA of the first 20 closes.")
    rsi: float | None = Field(description="RSI(14), Wilder smoothing.")
    macd: float | None = Field(description="MACD(12, 26): EMA12 - EMA26.")
    macd_signal: float | None = Field(description="EMA(9) of the MACD line.")
    macd_hist: float | None = Field(description="MACD - signal.")
    bollinger_upper: float | None = Field(description="SMA(20) + 2 population sigma.")
    bollinger_middle: float | None
    bollinger_lower: float | None
    stoch_k: float | None = Field(description="Slow %K (14, 3, 3, SMA smoothing).")
    stoch_d: float | None = Field(description="Slow %D.")
    obv: float | None = Field(description="On-balance volume from the first bar.")
    atr: float | None = Field(description="ATR(14), Wilder smoothing.")


class SignalSummary(CamelModel):
    """The combined signal of the last day: each indicator's vote (1 buy, -1 sell, 0 neutral, null warming
    up), the score (-100..100, the mean of the votes cast x 100; null when none is) and its label."""

    score: float | None
    label: str = Field(description="strong buy, buy, neutral, sell or strong sell.")
    votes: dict[str, float | None]


class Indicators(CamelModel):
    company_id: int
    symbol: str
    interval: Interval
    series: list[IndicatorPoint] = Field(description="The days of [start, end], oldest first.")
    latest: IndicatorPoint | None = Field(description="The last day of the series; null without bars.")
    signal: SignalSummary
    bars_used: int = Field(description="Stored bars the indicators were computed over (up to end).")


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _series(
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    volume: npt.NDArray[np.float64],
) -> dict[str, npt.NDArray[np.float64]]:
    line, line_signal, hist = macd(close)
    upper, middle, lower = bollinger(close)
    k, d = stochastic(high, low, close)
    return {
        "sma": sma(close),
        "ema": ema(close),
        "rsi": rsi(close),
        "macd": line,
        "macd_signal": line_signal,
        "macd_hist": hist,
        "bollinger_upper": upper,
        "bollinger_middle": middle,
        "bollinger_lower": lower,
        "stoch_k": k,
        "stoch_d": d,
        "obv": obv(close, volume),
        "atr": atr(high, low, close),
    }


def _company(conn: Any, company_id: int) -> str:
    row = conn.execute("SELECT symbol FROM companies WHERE id = %s", (company_id,)).fetchone()
    if row is None:
        raise NotFound(f"company {company_id} does not exist")
    return str(row["symbol"])


def daily_bars(conn: Any, symbol: str, end: datetime) -> list[dict[str, Any]]:
    """Every stored daily bar of ``symbol`` up to ``end``, oldest first."""
    rows: list[dict[str, Any]] = conn.execute(
        "SELECT bucket, high, low, close, volume FROM ohlcv_1d WHERE symbol = %s AND bucket <= %s ORDER BY bucket",
        (symbol, end),
    ).fetchall()
    return rows


def company_indicators(
    company_id: int,
    interval: str = "1d",
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> Indicators:
    if interval != "1d":
        raise InvalidRequest(f"interval must be 1d (indicators are computed from daily bars), not {interval!r}")
    end = end or now or datetime.now(UTC)
    start = start or end - DEFAULT_SPAN
    if start > end:
        raise InvalidRequest("start is after end")
    if end - start > MAX_SPAN:
        raise InvalidRequest(f"at most {MAX_SPAN.days} days of indicators per request")
    with db.read() as conn:
        symbol = _company(conn, company_id)
        rows = daily_bars(conn, symbol, end)
    return build(company_id, symbol, rows, start)


def build(company_id: int, symbol: str, rows: list[dict[str, Any]], start: datetime) -> Indicators:
    """The answer from the bars up to ``end`` (oldest first), cut to the days from ``start``."""
    high, low, close, volume = (
        np.array([float(r[f]) for r in rows], dtype=np.float64) for f in ("high", "low", "close", "volume")
    )
    if not rows:
        return Indicators(
            company_id=company_id,
            symbol=symbol,
            interval="1d",
            series=[],
            latest=None,
            signal=SignalSummary(score=None, label="neutral", votes={}),
            bars_used=0,
        )
    values = _series(high, low, close, volume)
    combined = signal(high, low, close, volume)
    points = [
        IndicatorPoint(
            time=int(row["bucket"].timestamp()),
            close=float(close[i]),
            **{name: _number(float(values[name][i])) for name in SERIES},
        )
        for i, row in enumerate(rows)
        if row["bucket"] >= start
    ]
    score = float(combined.score[-1])
    summary = SignalSummary(
        score=_number(score),
        label=signal_label(score),
        votes={name: _number(float(vote[-1])) for name, vote in combined.votes.items()},
    )
    return Indicators(
        company_id=company_id,
        symbol=symbol,
        interval="1d",
        series=points,
        latest=points[-1] if points else None,
        signal=summary,
        bars_used=len(rows),
    )
