"""Holdings (quantity, average price) and their value and profit/loss at the last price.

Values use the best known price (:mod:`kstock.marketdata.quotes`); a holding without any price
has null value and P/L, and the totals say how many holdings they leave out.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from psycopg import errors as pg_errors
from psycopg.rows import DictRow
from pydantic import Field

from kstock import db
from kstock.companies.detail import company_row
from kstock.errors import NotFound
from kstock.marketdata.quotes import LastPrice, last_prices
from kstock.schemas import CamelModel
from kstock.validation import MAX_BIG_ID, MAX_ID, BodyModel, PageQuery, QueryModel

MAX_QUANTITY = 10**12
MAX_PRICE = 10**11


class HoldingRequest(BodyModel):
    company_id: int = Field(ge=1, le=MAX_ID)
    quantity: int = Field(ge=1, le=MAX_QUANTITY, description="Shares held.")
    average_price: float = Field(ge=0, le=MAX_PRICE, allow_inf_nan=False, description="Average buy price (KRW).")


class CompanyQuery(QueryModel):
    company_id: int = Field(ge=1, le=MAX_ID, description="The company whose holding to remove.")


class Holding(CamelModel):
    holding_id: int
    company_id: int
    name: str
    symbol: str
    market: str
    quantity: int
    average_price: float
    cost: float = Field(description="quantity x averagePrice")
    price: LastPrice | None = None
    value: float | None = Field(None, description="quantity x the last price")
    profit_loss: float | None = None
    profit_loss_percent: float | None = None
    created_at: datetime
    updated_at: datetime


class Totals(CamelModel):
    holdings: int
    priced: int = Field(description="Holdings with a known price (the ones value and P/L cover).")
    cost: float
    value: float | None = None
    profit_loss: float | None = None
    profit_loss_percent: float | None = None


class Portfolio(CamelModel):
    holdings: list[Holding]
    totals: Totals = Field(description="Over every holding, not only this page.")


_SELECT = """
    SELECT h.id AS holding_id, c.id AS company_id, c.name, c.symbol, c.market, h.quantity,
           h.average_price, h.created_at, h.updated_at
    FROM portfolio_holdings h JOIN companies c ON c.id = h.company_id
"""


def _percent(part: float, whole: float) -> float | None:
    return round(part / whole * 100, 2) if whole else None


def _holding(row: DictRow, price: LastPrice | None) -> Holding:
    average = float(row["average_price"])
    cost = row["quantity"] * average
    value = row["quantity"] * price.price if price else None
    profit = value - cost if value is not None else None
    return Holding(
        **{**row, "average_price": average},
        cost=cost,
        price=price,
        value=value,
        profit_loss=profit,
        profit_loss_percent=_percent(profit, cost) if profit is not None else None,
    )


def _totals(holdings: list[Holding]) -> Totals:
    priced = [h for h in holdings if h.value is not None]
    cost = sum(h.cost for h in holdings)
    priced_cost = sum(h.cost for h in priced)
    value = sum(h.value for h in priced if h.value is not None) if priced else None
    profit = value - priced_cost if value is not None else None
    return Totals(
        holdings=len(holdings),
        priced=len(priced),
        cost=cost,
        value=value,
        profit_loss=profit,
        profit_loss_percent=_percent(profit, priced_cost) if profit is not None else None,
    )


def portfolio(user_id: int, page: PageQuery) -> Portfolio:
    with db.read() as conn:
        rows = conn.execute(_SELECT + " WHERE h.user_id = %s ORDER BY h.created_at, h.id", (user_id,)).fetchall()
    prices = last_prices(r["symbol"] for r in rows)
    holdings = [_holding(r, prices.get(r["symbol"])) for r in rows]
    return Portfolio(holdings=holdings[page.offset : page.offset + page.limit], totals=_totals(holdings))


def upsert(user_id: int, request: HoldingRequest) -> tuple[Holding, bool]:
    """Set the holding of a company (created or replaced); ``NOT_FOUND`` for an unknown company.
    Returns the holding and whether it was created."""
    average = Decimal(str(request.average_price)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    try:
        with db.transaction() as conn:
            company_row(conn, request.company_id)
            row = db.one_row(
                conn.execute(
                    """
                    INSERT INTO portfolio_holdings (user_id, company_id, quantity, average_price)
                    VALUES (%s, %s, %s, %s)
                    ON CONFLICT (user_id, company_id) DO UPDATE SET
                        quantity = EXCLUDED.quantity, average_price = EXCLUDED.average_price, updated_at = now()
                    RETURNING id, (xmax = 0) AS created
                    """,
                    (user_id, request.company_id, request.quantity, average),
                )
            )
            found = db.one_row(conn.execute(_SELECT + " WHERE h.id = %s", (row["id"],)))
    except pg_errors.ForeignKeyViolation:
        raise NotFound("the user no longer exists") from None
    price = last_prices([found["symbol"]]).get(found["symbol"])
    return _holding(found, price), bool(row["created"])


def remove(user_id: int, holding_id: int) -> None:
    if holding_id > MAX_BIG_ID:
        raise NotFound(f"holding {holding_id} does not exist")
    with db.transaction() as conn:
        deleted = conn.execute(
            "DELETE FROM portfolio_holdings WHERE id = %s AND user_id = %s RETURNING id", (holding_id, user_id)
        ).fetchone()
    if deleted is None:
        raise NotFound(f"holding {holding_id} does not exist")


def remove_company(user_id: int, company_id: int) -> None:
    with db.transaction() as conn:
        deleted = conn.execute(
            "DELETE FROM portfolio_holdings WHERE company_id = %s AND user_id = %s RETURNING id", (company_id, user_id)
        ).fetchone()
    if deleted is None:
        raise NotFound(f"no holding of company {company_id}")
