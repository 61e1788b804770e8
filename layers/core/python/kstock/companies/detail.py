"""Company detail: reference data and market figures (cached 1 h) with the last price (never cached)."""

from __future__ import annotations

from datetime import date, datetime

from psycopg.rows import DictRow

from kstock import db, keys
from kstock.config import get_settings
from kstock.errors import NotFound
from kstock.marketdata import cache
from kstock.marketdata.quotes import LastPrice, last_prices
from kstock.schemas import CamelModel


class IndustryRef(CamelModel):
    industry_id: int
    name: str


class CompanyInfo(CamelModel):
    company_id: int
    name: str
    symbol: str
    market: str
    kind: str
    industry: IndustryRef | None = None
    description: str | None = None
    logo: str | None = None
    homepage: str | None = None
    listed_on: date | None = None
    listed_shares: int | None = None
    market_cap: int | None = None
    market_data_at: datetime | None = None
    is_warning: bool
    is_halted: bool
    realtime_supported: bool


class CompanyDetail(CompanyInfo):
    price: LastPrice | None = None


def company_row(conn: db.Connection, company_id: int) -> DictRow:
    """The company's id and symbol, or ``NOT_FOUND``."""
    row = conn.execute("SELECT id, symbol FROM companies WHERE id = %s", (company_id,)).fetchone()
    if row is None:
        raise NotFound(f"company {company_id} does not exist")
    return row


def require_industry(conn: db.Connection, industry_id: int) -> None:
    """``NOT_FOUND`` unless the industry exists."""
    if conn.execute("SELECT 1 FROM industries WHERE id = %s", (industry_id,)).fetchone() is None:
        raise NotFound(f"industry {industry_id} does not exist")


def _load_info(company_id: int) -> CompanyInfo:
    with db.read() as conn:
        row = conn.execute(
            """
            SELECT c.id AS company_id, c.name, c.symbol, c.market, c.kind, c.description, c.logo, c.homepage,
                   c.listed_on, c.listed_shares, c.market_cap, c.market_data_at, c.is_warning, c.is_halted,
                   c.realtime_supported, i.id AS industry_id, i.name AS industry_name
            FROM companies c LEFT JOIN industries i ON i.id = c.industry_id
            WHERE c.id = %s
            """,
            (company_id,),
        ).fetchone()
    if row is None:
        raise NotFound(f"company {company_id} does not exist")
    industry = (
        IndustryRef(industry_id=row["industry_id"], name=row["industry_name"])
        if row["industry_id"] is not None
        else None
    )
    return CompanyInfo.model_validate({**row, "industry": industry})


def info(company_id: int) -> tuple[CompanyInfo, bool]:
    """The company's cached info and whether it came from the cache."""
    return cache.cached(
        keys.company_info(company_id),
        None,
        get_settings().cache_company_ttl_seconds,
        lambda: _load_info(company_id),
        lambda v: v.model_dump(mode="json"),
        CompanyInfo.model_validate,
    )


def detail(company_id: int) -> CompanyDetail:
    company, _ = info(company_id)
    price = last_prices([company.symbol]).get(company.symbol)
    return CompanyDetail(**company.model_dump(), price=price)


def forget_companies(company_ids: list[int]) -> None:
    """Drop the cached info of these companies (their market data changed)."""
    cache.invalidate([keys.company_info(i) for i in company_ids], keys.RANKING_HASHES)
