"""Watchlist jobs (issue 15, seed 000): the hourly safety filter and the 10-minute traded-value ranking
that writes ``streamer:watchlist`` (the streamer subscribes to what it lists)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kstock import db
from kstock.logs import get_logger
from kstock.watchlist import refresh, safe_symbols, store_safe
from kstock.watchlist.select import kis_traded_values

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.watchlist")


def safety_filter(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with db.read() as conn:
        safe = safe_symbols(conn)
    store_safe(safe)
    log.info("safety filter", extra={"safe": len(safe)})
    return {"safe": len(safe)}


def rank(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    top = refresh(kis_traded_values)
    return {"watchlist": [c.symbol for c in top]}
