"""Readers of stored DART data for the routes: financials per period, filings, latest yearly figures.

``source`` is on every row (``dart``, or ``simulated`` from the local stand-in) so a client can
label simulated figures; ``fsDiv`` says whether figures are consolidated (CFS) or separate (OFS).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal

from psycopg.rows import dict_row

from kstock import db
from kstock.companies.detail import company_row
from kstock.schemas import CamelModel
from kstock.validation import PageQuery

PeriodKind = Literal["yearly", "quarterly"]

# Within a year: the full year first, then the quarters newest first.
_PERIOD_ORDER = "array_position(ARRAY['FY', 'Q3', 'Q2', 'Q1'], period)"


class FinancialPeriod(CamelModel):
    fiscal_year: int
    period: str  # FY, Q1, Q2, Q3 (a quarter's own three months)
    fs_div: str | None = None  # CFS consolidated, OFS separate
    revenue: int | None = None
    operating_profit: int | None = None
    net_income: int | None = None
    per: float | None = None
    pbr: float | None = None
    sales_composition: Any | None = None
    receipt_no: str | None = None
    source: str
    fetched_at: datetime


class Filing(CamelModel):
    report_id: int
    receipt_no: str
    title: str
    report_type: str | None = None  # annual, half, quarterly, major_event, other
    filed_on: date
    filer_name: str | None = None
    url: str  # https://dart.fss.or.kr/dsaf001/main.do?rcpNo=<receiptNo>
    source: str


class LatestYearly(CamelModel):
    fiscal_year: int
    revenue: int | None = None
    operating_profit: int | None = None
    net_income: int | None = None
    fs_div: str | None = None
    source: str


# For a LATERAL join (comparisons): the newest full year of company c.
LATEST_YEARLY_SQL = """
    SELECT fiscal_year, revenue, operating_profit, net_income, fs_div, source, per, pbr FROM financials
    WHERE company_id = c.id AND period = 'FY' ORDER BY fiscal_year DESC LIMIT 1
"""


def financials(company_id: int, page: PageQuery | None = None, kind: PeriodKind | None = None) -> list[FinancialPeriod]:
    """Yearly and quarterly figures, newest first (``kind`` keeps only one of them); NOT_FOUND for no company."""
    page = page or PageQuery.model_validate({})
    period_filter = {"yearly": "AND period = 'FY'", "quarterly": "AND period <> 'FY'", None: ""}[kind]
    with db.read() as conn:
        company_row(conn, company_id)
        rows = conn.execute(
            f"""
            SELECT fiscal_year, period, fs_div, revenue, operating_profit, net_income, per::float AS per,
                   pbr::float AS pbr, sales_composition, receipt_no, source, fetched_at
            FROM financials WHERE company_id = %s {period_filter}
            ORDER BY fiscal_year DESC, {_PERIOD_ORDER} LIMIT %s OFFSET %s
            """,
            (company_id, page.limit, page.offset),
        ).fetchall()
    return [FinancialPeriod.model_validate(r) for r in rows]


def reports(company_id: int, page: PageQuery | None = None) -> list[Filing]:
    """Filings with their DART links, newest first; NOT_FOUND for no company."""
    page = page or PageQuery.model_validate({})
    with db.read() as conn:
        company_row(conn, company_id)
        rows = conn.execute(
            """
            SELECT id AS report_id, receipt_no, title, report_type, filed_on, filer_name, url, source FROM reports
            WHERE company_id = %s ORDER BY filed_on DESC, receipt_no DESC LIMIT %s OFFSET %s
            """,
            (company_id, page.limit, page.offset),
        ).fetchall()
    return [Filing.model_validate(r) for r in rows]


def latest_yearly(company_id: int) -> LatestYearly | None:
    """The newest full year's revenue, operating profit and net income, or None when none is stored."""
    return latest_yearly_many([company_id]).get(company_id)


def latest_yearly_many(company_ids: Iterable[int]) -> dict[int, LatestYearly]:
    """:func:`latest_yearly` for several companies in one query (comparison detail)."""
    ids = sorted(set(company_ids))
    if not ids:
        return {}
    with db.read() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT DISTINCT ON (company_id) company_id, fiscal_year, revenue, operating_profit, net_income, fs_div,
                   source
            FROM financials WHERE company_id = ANY(%s) AND period = 'FY'
            ORDER BY company_id, fiscal_year DESC
            """,
            (ids,),
        ).fetchall()
    return {r["company_id"]: LatestYearly.model_validate(r) for r in rows}
