"""The per-company figures an analysis scores, read for many companies at once.

Each figure is computed here and only here from stored rows, so the rules score, the prompt and a test
recomputing either from the tables agree:

- revenue and operating-profit growth: the newest full year (period FY) against the year before, in %
  of the earlier year's absolute value;
- margin change: operating margin (operating profit / revenue) of that year minus the year before's, in
  percentage points;
- momentum: the close today against the close 60 bars earlier (``ohlcv_1d``), in %; ``return_20d`` the
  same over 20 bars;
- RS rank: the company's ``rs_rank`` in the newest finished scan run (0-100; 50 is the median stock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MOMENTUM_BARS = 60
SHORT_BARS = 20


@dataclass(frozen=True)
class YearPair:
    """The newest two full years of one company (the earlier one may be missing)."""

    year: int
    revenue: int | None
    operating_profit: int | None
    prev_year: int | None
    prev_revenue: int | None
    prev_operating_profit: int | None
    source: str


@dataclass(frozen=True)
class CompanyFigures:
    company_id: int
    years: YearPair | None
    revenue_growth: float | None
    operating_profit_growth: float | None
    margin: float | None
    margin_change: float | None
    momentum_60d: float | None
    return_20d: float | None
    last_close: float | None
    rs_rank: float | None


def growth(now: int | None, before: int | None) -> float | None:
    """% change from ``before`` to ``now`` (of |before|, so a smaller loss is growth); None when undefined."""
    if now is None or before is None or before == 0:
        return None
    return round((now - before) / abs(before) * 100.0, 2)


def margin(profit: int | None, revenue: int | None) -> float | None:
    if profit is None or revenue is None or revenue <= 0:
        return None
    return round(profit / revenue * 100.0, 2)


def _years(conn: Any, ids: list[int]) -> dict[int, YearPair]:
    rows = conn.execute(
        """
        SELECT company_id, fiscal_year, revenue, operating_profit, source, rn FROM (
            SELECT company_id, fiscal_year, revenue, operating_profit, source,
                   row_number() OVER (PARTITION BY company_id ORDER BY fiscal_year DESC) AS rn
            FROM financials WHERE company_id = ANY(%s) AND period = 'FY') newest
        WHERE rn <= 2 ORDER BY company_id, rn
        """,
        (ids,),
    ).fetchall()
    out: dict[int, YearPair] = {}
    for row in rows:
        cid = int(row["company_id"])
        if row["rn"] == 1:
            out[cid] = YearPair(
                int(row["fiscal_year"]), row["revenue"], row["operating_profit"], None, None, None, row["source"]
            )
        elif cid in out:
            first = out[cid]
            out[cid] = YearPair(
                first.year,
                first.revenue,
                first.operating_profit,
                int(row["fiscal_year"]),
                row["revenue"],
                row["operating_profit"],
                first.source,
            )
    return out


def _closes(conn: Any, symbols: list[str]) -> dict[str, dict[int, float]]:
    """{symbol: {bars back (0 = newest): close}} for 0, 20 and 60 bars back."""
    rows = conn.execute(
        """
        SELECT symbol, close, rn - 1 AS back FROM (
            SELECT symbol, close, row_number() OVER (PARTITION BY symbol ORDER BY bucket DESC) AS rn
            FROM ohlcv_1d WHERE symbol = ANY(%s)) newest
        WHERE rn - 1 IN (0, %s, %s)
        """,
        (symbols, SHORT_BARS, MOMENTUM_BARS),
    ).fetchall()
    out: dict[str, dict[int, float]] = {}
    for row in rows:
        out.setdefault(row["symbol"], {})[int(row["back"])] = float(row["close"])
    return out


def _rs_ranks(conn: Any, ids: list[int]) -> dict[int, float]:
    rows = conn.execute(
        """
        SELECT company_id, rs_rank FROM scan_signals
        WHERE company_id = ANY(%s) AND rs_rank IS NOT NULL
          AND run_id = (SELECT id FROM scan_runs WHERE status = 'done' ORDER BY finished_at DESC, id DESC LIMIT 1)
        """,
        (ids,),
    ).fetchall()
    return {int(r["company_id"]): float(r["rs_rank"]) for r in rows}


def change(closes: dict[int, float], back: int) -> float | None:
    if 0 not in closes or back not in closes or closes[back] <= 0:
        return None
    return round((closes[0] / closes[back] - 1.0) * 100.0, 2)


def figures_of(conn: Any, companies: Sequence[tuple[int, str]]) -> dict[int, CompanyFigures]:
    """:class:`CompanyFigures` of each (id, symbol), in three queries whatever their number."""
    ids = [cid for cid, _ in companies]
    years = _years(conn, ids)
    closes = _closes(conn, [symbol for _, symbol in companies])
    ranks = _rs_ranks(conn, ids)
    out: dict[int, CompanyFigures] = {}
    for cid, symbol in companies:
        pair = years.get(cid)
        bars = closes.get(symbol, {})
        now_margin = margin(pair.operating_profit, pair.revenue) if pair else None
        prev_margin = margin(pair.prev_operating_profit, pair.prev_revenue) if pair else None
        out[cid] = CompanyFigures(
            company_id=cid,
            years=pair,
            revenue_growth=growth(pair.revenue, pair.prev_revenue) if pair else None,
            operating_profit_growth=growth(pair.operating_profit, pair.prev_operating_profit) if pair else None,
            margin=now_margin,
            margin_change=None if now_margin is None or prev_margin is None else round(now_margin - prev_margin, 2),
            momentum_60d=change(bars, MOMENTUM_BARS),
            return_20d=change(bars, SHORT_BARS),
            last_close=bars.get(0),
            rs_rank=ranks.get(cid),
        )
    return out


def median(values: Sequence[float | None]) -> float | None:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    middle = len(present) // 2
    value = present[middle] if len(present) % 2 else (present[middle - 1] + present[middle]) / 2
    return round(value, 2)
