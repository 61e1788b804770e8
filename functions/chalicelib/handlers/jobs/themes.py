"""Rank watch (issue 14): every minute of the session, the fluctuation top 30 from KIS; debounced
entrants are queued to ThemeClassifyQueue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kstock.kis.endpoints import endpoint_down
from kstock.kis.rest import shared_client
from kstock.logs import get_logger
from kstock.themes import service

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.themes")


def rank_watch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Every minute of the session: the fluctuation top 30, debounced entrants queued for classification."""
    client = shared_client()  # no KIS_APP_KEY: MissingSetting, the invocation fails and its log names it
    if endpoint_down(client.base_url):  # skip this minute rather than stall the next ones (endpoint_down)
        log.warning("KIS does not accept connections: ranking not polled", extra={"url": client.base_url})
        return {"skipped": True}
    result = service.poll(client=client)
    log.info("ranking polled", extra=result.summary())
    return result.summary()
