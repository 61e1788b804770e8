"""Comparisons: a named set of 2 to 10 companies a user saved, and their key figures side by side.

Another user's comparison is answered exactly like a missing one (``NOT_FOUND``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from kstock import db
from kstock.dart.queries import LATEST_YEARLY_SQL
from kstock.errors import InvalidRequest, NotFound
from kstock.marketdata.quotes import LastPrice, last_prices
from kstock.schemas import CamelModel
from kstock.validation import MAX_ID, BodyModel, PageQuery

MIN_MEMBERS, MAX_MEMBERS = 2, 10


class ComparisonRequest(BodyModel):
    name: str = Field(min_length=1, max_length=100, description="A name for the comparison.")
    companies: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=MIN_MEMBERS,
        max_length=MAX_MEMBERS,
        json_schema_extra={"uniqueItems": True},
        description="2 to 10 distinct company ids, in display order.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @field_validator("companies")
    @classmethod
    def _companies(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("a company appears twice")
        return value


class Member(CamelModel):
    company_id: int
    company_name: str
    symbol: str


class Comparison(CamelModel):
    comparison_id: int
    name: str
    companies: list[Member]
    created_at: datetime


class MemberFigures(Member):
    market: str
    industry: str | None = None
    price: LastPrice | None = None
    change_percent: float | None = None
    market_cap: int | None = None
    per: float | None = Field(None, description="Price/earnings of KIS's last quote, else of the latest filing.")
    pbr: float | None = None
    fiscal_year: int | None = Field(None, description="Year of revenue and operatingProfit (its full year, DART).")
    revenue: int | None = None
    operating_profit: int | None = None


class ComparisonDetail(CamelModel):
    comparison_id: int
    name: str
    created_at: datetime
    companies: list[MemberFigures]


def _members(conn: db.Connection, comparison_ids: list[int]) -> dict[int, list[Member]]:
    rows = conn.execute(
        """
        SELECT m.comparison_id, c.id AS company_id, c.name AS company_name, c.symbol
        FROM comparison_members m JOIN companies c ON c.id = m.company_id
        WHERE m.comparison_id = ANY(%s) ORDER BY m.comparison_id, m.position
        """,
        (comparison_ids,),
    ).fetchall()
    found: dict[int, list[Member]] = {i: [] for i in comparison_ids}
    for row in rows:
        found[row["comparison_id"]].append(Member.model_validate(row))
    return found


def create(user_id: int, request: ComparisonRequest) -> Comparison:
    """Save a comparison; ``INVALID_REQUEST`` naming the ids that are not companies."""
    with db.transaction() as conn:
        known = {
            r["id"]
            for r in conn.execute("SELECT id FROM companies WHERE id = ANY(%s)", (request.companies,)).fetchall()
        }
        unknown = [i for i in request.companies if i not in known]
        if unknown:
            raise InvalidRequest(f"companies: no company with id {', '.join(map(str, unknown))}")
        row = db.one_row(
            conn.execute(
                "INSERT INTO comparisons (user_id, name) VALUES (%s, %s) RETURNING id, created_at",
                (user_id, request.name),
            )
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO comparison_members (comparison_id, company_id, position) VALUES (%s, %s, %s)",
                [(row["id"], company_id, n) for n, company_id in enumerate(request.companies)],
            )
        members = _members(conn, [row["id"]])[row["id"]]
    return Comparison(comparison_id=row["id"], name=request.name, companies=members, created_at=row["created_at"])


def list_mine(user_id: int, page: PageQuery) -> list[Comparison]:
    with db.read() as conn:
        rows = conn.execute(
            "SELECT id, name, created_at FROM comparisons WHERE user_id = %s "
            "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            (user_id, page.limit, page.offset),
        ).fetchall()
        members = _members(conn, [r["id"] for r in rows])
    return [
        Comparison(comparison_id=r["id"], name=r["name"], companies=members[r["id"]], created_at=r["created_at"])
        for r in rows
    ]


_FIGURES_SQL = f"""
    SELECT c.id AS company_id, c.name AS company_name, c.symbol, c.market, i.name AS industry, c.market_cap,
           COALESCE(q.per, f.per)::float AS per, COALESCE(q.pbr, f.pbr)::float AS pbr,
           f.fiscal_year, f.revenue, f.operating_profit
    FROM comparison_members m
    JOIN companies c ON c.id = m.company_id
    LEFT JOIN industries i ON i.id = c.industry_id
    LEFT JOIN company_quotes q ON q.company_id = c.id
    LEFT JOIN LATERAL ({LATEST_YEARLY_SQL}) f ON true
    WHERE m.comparison_id = %s ORDER BY m.position
"""  # f: the newest full year (period FY) of each member; quarters are not a year


def detail(user_id: int, comparison_id: int) -> ComparisonDetail:
    """The comparison with each member's figures; ``NOT_FOUND`` unless it is the user's."""
    with db.transaction() as conn:
        head = conn.execute(
            "SELECT id, name, created_at FROM comparisons WHERE id = %s AND user_id = %s", (comparison_id, user_id)
        ).fetchone()
        if head is None:
            raise NotFound(f"comparison {comparison_id} does not exist")
        rows = conn.execute(_FIGURES_SQL, (comparison_id,)).fetchall()
    prices = last_prices(r["symbol"] for r in rows)
    members = []
    for row in rows:
        price = prices.get(row["symbol"])
        members.append(MemberFigures(**row, price=price, change_percent=price.change_percent if price else None))
    return ComparisonDetail(
        comparison_id=head["id"], name=head["name"], created_at=head["created_at"], companies=members
    )
