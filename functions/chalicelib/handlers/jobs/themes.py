"""Rank watch (issue 14): every minute of the session, the fluctuation top 30 from KIS; debounced
entrants are queued to ThemeClassifyQueue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kstock.kis.rest import shared_client
from kstock.logs import get_logger
from kstock.marketdata.refresh import kis_unreachable
from kstock.themes import service

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.themes")


def rank_watch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Every minute of the session: the fluctuation top 30, debounced entrants queued for classification."""
    if kis_unreachable():
        log.warning("KIS simulator not running: ranking not polled")
        return {"skipped": True}
    result = service.poll(client=shared_client())
    log.info("ranking polled", extra=result.summary())
    return result.summary()
