"""Market-cap rankings, cached in Redis for the PRD's 5 minutes and dropped by every market-data
refresh (:mod:`kstock.marketdata.refresh`).

Figures come from ``companies`` (market cap, listed shares) and ``company_quotes`` (price and
change of the last refresh). Companies whose market cap is still unknown rank last, in reference
order, with ``marketCap`` null: they are listed, not given a made-up figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from psycopg.rows import DictRow
from pydantic import Field

from kstock import db, keys
from kstock.companies.detail import require_industry
from kstock.config import get_settings
from kstock.keys import RANKING_HASHES
from kstock.marketdata import cache
from kstock.schemas import CamelModel
from kstock.validation import PageQuery

Market = Literal["ALL", "KOSPI", "KOSDAQ"]


class RankingQuery(PageQuery):
    market: Market = Field("ALL", description="KOSPI, KOSDAQ or ALL.")


class RankedCompany(CamelModel):
    rank: int
    company_id: int
    name: str
    symbol: str
    market: str
    industry_id: int | None = None
    industry: str | None = None
    market_cap: int | None = None
    listed_shares: int | None = None
    price: float | None = None
    change_percent: float | None = None
    quoted_at: datetime | None = Field(None, description="When KIS quoted price and change.")


class RankedIndustry(CamelModel):
    rank: int
    industry_id: int
    name: str
    companies: int = Field(description="Companies in the industry.")
    with_market_cap: int = Field(description="Companies whose market cap is known (summed in totalMarketCap).")
    total_market_cap: int | None = None
    average_change_percent: float | None = Field(None, description="Mean change % of the last refresh's quotes.")


_COMPANIES_SQL = """
    SELECT c.id AS company_id, c.name, c.symbol, c.market, c.industry_id, i.name AS industry,
           c.market_cap, c.listed_shares, q.price::float AS price, q.change_percent::float AS change_percent,
           q.quoted_at
    FROM companies c
    LEFT JOIN industries i ON i.id = c.industry_id
    LEFT JOIN company_quotes q ON q.company_id = c.id
    WHERE c.kind = 'STOCK' AND (%(market)s = 'ALL' OR c.market = %(market)s)
      AND (%(industry)s::int IS NULL OR c.industry_id = %(industry)s::int)
    ORDER BY c.market_cap DESC NULLS LAST, c.id
    LIMIT %(limit)s OFFSET %(offset)s
"""


def _ranked(rows: list[DictRow], offset: int) -> list[RankedCompany]:
    return [RankedCompany(rank=offset + n, **row) for n, row in enumerate(rows, 1)]


def _companies(market: str, industry_id: int | None, page: PageQuery) -> list[RankedCompany]:
    with db.read() as conn:
        if industry_id is not None:
            require_industry(conn, industry_id)
        rows = conn.execute(
            _COMPANIES_SQL, {"market": market, "industry": industry_id, "limit": page.limit, "offset": page.offset}
        ).fetchall()
    return _ranked(rows, page.offset)


def _dump(items: Sequence[CamelModel]) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json") for i in items]


def companies(query: RankingQuery) -> tuple[list[RankedCompany], bool]:
    """A page of companies by market cap (and whether it came from the cache)."""
    ttl = get_settings().cache_rankings_ttl_seconds
    return cache.cached(
        keys.RANKINGS_COMPANIES,
        f"{query.market}:{query.page}:{query.size}",
        ttl,
        lambda: _companies(query.market, None, query),
        _dump,
        lambda raw: [RankedCompany.model_validate(r) for r in raw],
    )


def industry_companies(industry_id: int, page: PageQuery) -> tuple[list[RankedCompany], bool]:
    """A page of one industry's companies by market cap; ``NOT_FOUND`` for an unknown industry."""
    ttl = get_settings().cache_rankings_ttl_seconds
    return cache.cached(
        keys.RANKINGS_INDUSTRY_COMPANIES,
        f"{industry_id}:{page.page}:{page.size}",
        ttl,
        lambda: _companies("ALL", industry_id, page),
        _dump,
        lambda raw: [RankedCompany.model_validate(r) for r in raw],
    )


_INDUSTRIES_SQL = """
    SELECT i.id AS industry_id, i.name, count(c.id) AS companies, count(c.market_cap) AS with_market_cap,
           sum(c.market_cap)::bigint AS total_market_cap,
           round(avg(q.change_percent), 2)::float AS average_change_percent
    FROM industries i
    JOIN companies c ON c.industry_id = i.id AND c.kind = 'STOCK'
    LEFT JOIN company_quotes q ON q.company_id = c.id
    GROUP BY i.id, i.name
    ORDER BY sum(c.market_cap) DESC NULLS LAST, i.id
    LIMIT %(limit)s OFFSET %(offset)s
"""


def _industries(page: PageQuery) -> list[RankedIndustry]:
    with db.read() as conn:
        rows = conn.execute(_INDUSTRIES_SQL, {"limit": page.limit, "offset": page.offset}).fetchall()
    return [RankedIndustry(rank=page.offset + n, **row) for n, row in enumerate(rows, 1)]


def industries(page: PageQuery) -> tuple[list[RankedIndustry], bool]:
    """A page of industries by total market cap, with their companies' average change."""
    ttl = get_settings().cache_rankings_ttl_seconds
    return cache.cached(
        keys.RANKINGS_INDUSTRIES,
        f"{page.page}:{page.size}",
        ttl,
        lambda: _industries(page),
        _dump,
        lambda raw: [RankedIndustry.model_validate(r) for r in raw],
    )


def invalidate() -> None:
    """Drop every cached ranking (the figures under them changed)."""
    cache.invalidate(hashes=RANKING_HASHES)
