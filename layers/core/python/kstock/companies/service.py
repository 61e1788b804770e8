"""Company search and lookup."""

from __future__ import annotations

from kstock import db
from kstock.errors import InvalidRequest, MissingField
from kstock.schemas import CamelModel

MAX_KEYWORD_LENGTH = 50


class CompanySummary(CamelModel):
    company_id: int
    name: str
    symbol: str
    market: str
    logo: str | None = None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(keyword: str | None, *, limit: int = 20, offset: int = 0) -> list[CompanySummary]:
    """Companies whose code or name matches ``keyword``, best first.

    Ranked: exact code, then name prefix, then name substring, then code prefix; within a rank,
    larger market cap first (unknown caps last, then reference-data order). Case-insensitive.
    """
    if keyword is None or not keyword.strip():
        raise MissingField("keyword is required")
    keyword = keyword.strip()
    if len(keyword) > MAX_KEYWORD_LENGTH:
        raise InvalidRequest(f"keyword is longer than {MAX_KEYWORD_LENGTH} characters")
    needle = _like_escape(keyword.lower())
    params = {
        "code": keyword.upper(),
        "prefix": f"{needle}%",
        "sub": f"%{needle}%",
        "code_prefix": f"{_like_escape(keyword.upper())}%",
        "limit": limit,
        "offset": offset,
    }
    sql = """
        SELECT id AS company_id, name, symbol, market, logo,
               CASE WHEN symbol = %(code)s THEN 0
                    WHEN lower(name) LIKE %(prefix)s THEN 1
                    WHEN lower(name) LIKE %(sub)s THEN 2
                    ELSE 3 END AS rank
        FROM companies
        WHERE symbol = %(code)s OR lower(name) LIKE %(sub)s OR symbol LIKE %(code_prefix)s
        ORDER BY rank, market_cap DESC NULLS LAST, id
        LIMIT %(limit)s OFFSET %(offset)s
    """
    with db.read() as conn:
        rows = conn.execute(sql, params).fetchall()
    return [CompanySummary.model_validate(row) for row in rows]
