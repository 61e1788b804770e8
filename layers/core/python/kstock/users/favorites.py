"""A user's favorite companies. Another user's favorite is answered exactly like a missing one."""

from __future__ import annotations

from datetime import datetime

from psycopg import errors as pg_errors
from pydantic import Field

from kstock import db
from kstock.companies.detail import company_row
from kstock.errors import AlreadyExists, NotFound
from kstock.schemas import CamelModel
from kstock.validation import MAX_ID, BodyModel, PageQuery


class FavoriteRequest(BodyModel):
    company_id: int = Field(ge=1, le=MAX_ID, description="The company to add.")


class Favorite(CamelModel):
    favorite_id: int
    company_id: int
    name: str
    symbol: str
    market: str
    logo: str | None = None
    created_at: datetime


_SELECT = """
    SELECT f.id AS favorite_id, c.id AS company_id, c.name, c.symbol, c.market, c.logo, f.created_at
    FROM favorites f JOIN companies c ON c.id = f.company_id
"""


def list_favorites(user_id: int, page: PageQuery) -> list[Favorite]:
    with db.read() as conn:
        rows = conn.execute(
            _SELECT + " WHERE f.user_id = %s ORDER BY f.created_at DESC, f.id DESC LIMIT %s OFFSET %s",
            (user_id, page.limit, page.offset),
        ).fetchall()
    return [Favorite.model_validate(r) for r in rows]


def add(user_id: int, request: FavoriteRequest) -> Favorite:
    """``NOT_FOUND`` for an unknown company, ``ALREADY_EXISTS`` when it is already a favorite."""
    try:
        with db.transaction() as conn:
            company_row(conn, request.company_id)
            row = db.one_row(
                conn.execute(
                    "INSERT INTO favorites (user_id, company_id) VALUES (%s, %s) RETURNING id",
                    (user_id, request.company_id),
                )
            )
            found = conn.execute(_SELECT + " WHERE f.id = %s", (row["id"],)).fetchone()
    except pg_errors.UniqueViolation:
        raise AlreadyExists("this company is already a favorite") from None
    except pg_errors.ForeignKeyViolation:  # the user was deleted meanwhile
        raise NotFound("the user no longer exists") from None
    return Favorite.model_validate(found)


def remove(user_id: int, favorite_id: int) -> None:
    with db.transaction() as conn:
        deleted = conn.execute(
            "DELETE FROM favorites WHERE id = %s AND user_id = %s RETURNING id", (favorite_id, user_id)
        ).fetchone()
    if deleted is None:
        raise NotFound(f"favorite {favorite_id} does not exist")
