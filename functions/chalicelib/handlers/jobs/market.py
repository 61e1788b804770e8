"""Market data from KIS (issue 7): market caps, listed shares and quotes; index values and history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kstock.config import get_settings
from kstock.indices import store
from kstock.kis.rest import shared_client
from kstock.logs import get_logger
from kstock.marketdata import refresh

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.jobs")


def market_data(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Market caps, listed shares and quotes from KIS; drops the caches built on the old ones."""
    if refresh.kis_unreachable():
        log.warning("KIS simulator not running: market data not refreshed")
        return {"skipped": 1}
    requested = event.get("batchSize")  # an operator's (or the first `kstock up`'s) full refresh
    batch_size = requested if isinstance(requested, int) and requested > 0 else get_settings().market_data_batch_size
    result = refresh.refresh(shared_client(), batch_size=batch_size, deadline=refresh.deadline_of(context))
    log.info("market data refreshed", extra=result.summary())
    return result.summary()


def index_data(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """KOSPI / KOSDAQ (and KOSPI200) values and daily history from KIS into index_data."""
    if refresh.kis_unreachable():
        log.warning("KIS simulator not running: index data not loaded")
        return {"skipped": True}
    result = store.load(shared_client(), history_days=get_settings().index_history_days)
    log.info("index data loaded", extra=result.summary())
    return result.summary()
