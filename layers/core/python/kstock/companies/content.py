"""The news stored about a company or an industry, newest first.

News ingestion (:mod:`kstock.news.ingest`) fills these tables; financials and filings are read by
:mod:`kstock.dart.queries`. ``source`` is ``naver``, or ``simulated`` for the local stand-in's articles.
"""

from __future__ import annotations

from datetime import datetime

from kstock import db
from kstock.companies.detail import company_row, require_industry
from kstock.schemas import CamelModel
from kstock.validation import PageQuery


class NewsItem(CamelModel):
    news_id: int
    title: str
    summary: str | None = None
    url: str
    source: str
    published_at: datetime
    keywords: list[str] = []


_NEWS_SQL = """
    SELECT n.id AS news_id, n.title, n.summary, n.url, n.source, n.published_at, n.keywords
    FROM {link} l JOIN news n ON n.id = l.news_id
    WHERE l.{owner} = %s ORDER BY n.published_at DESC, n.id DESC LIMIT %s OFFSET %s
"""


def company_news(company_id: int, page: PageQuery) -> list[NewsItem]:
    """News linked to the company, newest first."""
    with db.read() as conn:
        company_row(conn, company_id)
        rows = conn.execute(
            _NEWS_SQL.format(link="news_companies", owner="company_id"), (company_id, page.limit, page.offset)
        ).fetchall()
    return [NewsItem.model_validate(r) for r in rows]


def industry_news(industry_id: int, page: PageQuery) -> list[NewsItem]:
    """News linked to the industry, newest first."""
    with db.read() as conn:
        require_industry(conn, industry_id)
        rows = conn.execute(
            _NEWS_SQL.format(link="news_industries", owner="industry_id"), (industry_id, page.limit, page.offset)
        ).fetchall()
    return [NewsItem.model_validate(r) for r in rows]
