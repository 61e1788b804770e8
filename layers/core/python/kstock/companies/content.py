"""What is stored about a company or an industry: yearly financials, filings and news.

These read their tables as they are. DART and news ingestion fill them in their own issues; until
then the answers are honest empty lists, never invented figures.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kstock import db
from kstock.companies.detail import company_row, require_industry
from kstock.schemas import CamelModel
from kstock.validation import PageQuery


class Financials(CamelModel):
    fiscal_year: int
    revenue: int | None = None
    operating_profit: int | None = None
    net_income: int | None = None
    per: float | None = None
    pbr: float | None = None
    sales_composition: Any | None = None
    source: str
    fetched_at: datetime


class Report(CamelModel):
    report_id: int
    receipt_no: str
    title: str
    report_type: str | None = None
    filed_on: date
    url: str


class NewsItem(CamelModel):
    news_id: int
    title: str
    summary: str | None = None
    url: str
    source: str
    published_at: datetime
    keywords: list[str] = []


def financials(company_id: int, page: PageQuery) -> list[Financials]:
    """Yearly figures, the latest year first."""
    with db.read() as conn:
        company_row(conn, company_id)
        rows = conn.execute(
            """
            SELECT fiscal_year, revenue, operating_profit, net_income, per::float AS per, pbr::float AS pbr,
                   sales_composition, source, fetched_at
            FROM financials WHERE company_id = %s ORDER BY fiscal_year DESC LIMIT %s OFFSET %s
            """, (company_id, page.limit, page.offset)).fetchall()
    return [Financials.model_validate(r) for r in rows]


def reports(company_id: int, page: PageQuery) -> list[Report]:
    """Periodic filings, the newest first."""
    with db.read() as conn:
        company_row(conn, company_id)
        rows = conn.execute(
            """
            SELECT id AS report_id, receipt_no, title, report_type, filed_on, url FROM reports
            WHERE company_id = %s ORDER BY filed_on DESC, id DESC LIMIT %s OFFSET %s
            """, (company_id, page.limit, page.offset)).fetchall()
    return [Report.model_validate(r) for r in rows]


_NEWS_SQL = """
    SELECT n.id AS news_id, n.title, n.summary, n.url, n.source, n.published_at, n.keywords
    FROM {link} l JOIN news n ON n.id = l.news_id
    WHERE l.{owner} = %s ORDER BY n.published_at DESC, n.id DESC LIMIT %s OFFSET %s
"""


def company_news(company_id: int, page: PageQuery) -> list[NewsItem]:
    """News linked to the company, newest first."""
    with db.read() as conn:
        company_row(conn, company_id)
        rows = conn.execute(_NEWS_SQL.format(link="news_companies", owner="company_id"),
                            (company_id, page.limit, page.offset)).fetchall()
    return [NewsItem.model_validate(r) for r in rows]


def industry_news(industry_id: int, page: PageQuery) -> list[NewsItem]:
    """News linked to the industry, newest first."""
    with db.read() as conn:
        require_industry(conn, industry_id)
        rows = conn.execute(_NEWS_SQL.format(link="news_industries", owner="industry_id"),
                            (industry_id, page.limit, page.offset)).fetchall()
    return [NewsItem.model_validate(r) for r in rows]
