"""What kstock holds about one company, and whether its loads are done (seed 002's data-collection status).

Four kinds of data, each loaded by its own queue worker: daily bars (BackfillQueue), filings and
financials (DartQueue), news (NewsQueue). For each: how much is stored and when it was last
refreshed (``data_refreshes``, written by the workers even when the provider had nothing new).

A kind is *done* when something is stored or a load has completed (a young company may have no
filings; a quiet one no news this week). Daily bars are done once a backfill ran or the stored
history reaches back a year (bars rolled up from today's ticks alone are not a history).
``isComplete`` says every kind is done: a client adding a favorite polls until then.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from kstock import db
from kstock.companies.detail import company_row
from kstock.dart.store import FILINGS, FINANCIALS
from kstock.dart.store import mark_refreshed as mark_refreshed
from kstock.market.calendar import KST
from kstock.schemas import CamelModel

DAILY_BARS, NEWS = "daily_bars", "news"  # data_refreshes kinds written by the backfill and news workers
Kind = Literal["daily_bars", "filings", "financials", "news"]
KINDS: tuple[Kind, ...] = ("daily_bars", "filings", "financials", "news")
HISTORY_DAYS = 365  # stored bars reaching back this far are a history even without a recorded backfill


class DailyBarsStatus(CamelModel):
    count: int
    first_day: date | None = None
    last_day: date | None = None
    refreshed_at: datetime | None = None


class FinancialsStatus(CamelModel):
    periods: int = Field(description="Stored periods (FY and quarters).")
    yearly: int = Field(description="Stored full years (period FY).")
    latest_fiscal_year: int | None = None
    latest_period: str | None = Field(None, description="FY, Q3, Q2 or Q1 of latestFiscalYear.")
    refreshed_at: datetime | None = None


class FilingsStatus(CamelModel):
    count: int
    latest_filed_on: date | None = None
    refreshed_at: datetime | None = None


class NewsStatus(CamelModel):
    count: int
    latest_published_at: datetime | None = None
    refreshed_at: datetime | None = None


class DataStatus(CamelModel):
    company_id: int
    symbol: str
    daily_bars: DailyBarsStatus
    financials: FinancialsStatus
    filings: FilingsStatus
    news: NewsStatus
    missing: list[Kind] = Field(description="Kinds still loading (or never asked for): empty when complete.")
    is_complete: bool


_STATUS_SQL = """
    SELECT c.id AS company_id, c.symbol, c.kind,
           b.count AS bar_count, b.first_day, b.last_day,
           f.periods, f.yearly, lf.fiscal_year AS latest_fiscal_year, lf.period AS latest_period,
           r.count AS filing_count, r.latest_filed_on,
           n.count AS news_count, n.latest_published_at,
           (SELECT jsonb_object_agg(kind, refreshed_at) FROM data_refreshes WHERE company_id = c.id) AS refreshed
    FROM companies c
    CROSS JOIN LATERAL (SELECT count(*)::int AS count,
                               (min(bucket) AT TIME ZONE 'Asia/Seoul')::date AS first_day,
                               (max(bucket) AT TIME ZONE 'Asia/Seoul')::date AS last_day
                        FROM ohlcv_1d WHERE symbol = c.symbol) b
    CROSS JOIN LATERAL (SELECT count(*)::int AS periods, count(*) FILTER (WHERE period = 'FY')::int AS yearly
                        FROM financials WHERE company_id = c.id) f
    LEFT JOIN LATERAL (SELECT fiscal_year, period FROM financials WHERE company_id = c.id
                       ORDER BY fiscal_year DESC, array_position(ARRAY['FY', 'Q3', 'Q2', 'Q1'], period)
                       LIMIT 1) lf ON true
    CROSS JOIN LATERAL (SELECT count(*)::int AS count, max(filed_on) AS latest_filed_on
                        FROM reports WHERE company_id = c.id) r
    CROSS JOIN LATERAL (SELECT count(*)::int AS count, max(n.published_at) AS latest_published_at
                        FROM news_companies l JOIN news n ON n.id = l.news_id WHERE l.company_id = c.id) n
    WHERE c.id = %s
"""


def status(company_id: int) -> DataStatus:
    """The company's data status; NOT_FOUND for no company."""
    with db.read() as conn:
        company_row(conn, company_id)
        row: Any = conn.execute(_STATUS_SQL, (company_id,)).fetchone()
    refreshed = {kind: datetime.fromisoformat(at) for kind, at in (row["refreshed"] or {}).items()}
    bars = DailyBarsStatus(
        count=row["bar_count"],
        first_day=row["first_day"],
        last_day=row["last_day"],
        refreshed_at=refreshed.get(DAILY_BARS),
    )
    financials = FinancialsStatus(
        periods=row["periods"],
        yearly=row["yearly"],
        latest_fiscal_year=row["latest_fiscal_year"],
        latest_period=row["latest_period"],
        refreshed_at=refreshed.get(FINANCIALS),
    )
    filings = FilingsStatus(
        count=row["filing_count"], latest_filed_on=row["latest_filed_on"], refreshed_at=refreshed.get(FILINGS)
    )
    news = NewsStatus(
        count=row["news_count"], latest_published_at=row["latest_published_at"], refreshed_at=refreshed.get(NEWS)
    )
    done = {
        "daily_bars": _has_history(bars),
        # DART files nothing for funds: nothing to wait for
        "filings": row["kind"] != "STOCK" or filings.count > 0 or filings.refreshed_at is not None,
        "financials": row["kind"] != "STOCK" or financials.periods > 0 or financials.refreshed_at is not None,
        "news": news.count > 0 or news.refreshed_at is not None,
    }
    missing = [kind for kind in KINDS if not done[kind]]
    return DataStatus(
        company_id=row["company_id"],
        symbol=row["symbol"],
        daily_bars=bars,
        financials=financials,
        filings=filings,
        news=news,
        missing=missing,
        is_complete=not missing,
    )


def _has_history(bars: DailyBarsStatus) -> bool:
    if bars.refreshed_at is not None:
        return True
    year_ago = datetime.now(KST).date() - timedelta(days=HISTORY_DAYS)
    return bars.first_day is not None and bars.first_day <= year_ago


def mark_refreshed_symbols(conn: Any, symbols: list[str], kind: str) -> None:
    """:func:`mark_refreshed` for companies named by symbol (the backfill worker knows only the symbol)."""
    rows = conn.execute("SELECT id FROM companies WHERE symbol = ANY(%s)", (symbols,)).fetchall()
    mark_refreshed(conn, [r["id"] for r in rows], kind)
