"""Market data from KIS (issue 7): market caps, listed shares and quotes; index values and history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kstock.config import get_settings
from kstock.indices import store
from kstock.kis.endpoints import endpoint_down
from kstock.kis.rest import shared_client
from kstock.logs import get_logger
from kstock.marketdata import refresh

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.jobs")


def market_data(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Market caps, listed shares and quotes from KIS; drops the caches built on the old ones."""
    client = shared_client()  # no KIS_APP_KEY: MissingSetting, the invocation fails and its log names it
    if endpoint_down(client.base_url):
        log.warning("KIS does not accept connections: market data not refreshed", extra={"url": client.base_url})
        return {"skipped": 1}
    requested = event.get("batchSize")  # an operator's (or the first `kstock up`'s) full refresh
    batch_size = requested if isinstance(requested, int) and requested > 0 else get_settings().market_data_batch_size
    result = refresh.refresh(client, batch_size=batch_size, deadline=refresh.deadline_of(context))
    log.info("market data refreshed", extra=result.summary())
    return result.summary()


def index_data(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """KOSPI / KOSDAQ (and KOSPI200) values and daily history from KIS into index_data."""
    client = shared_client()
    if endpoint_down(client.base_url):
        log.warning("KIS does not accept connections: index data not loaded", extra={"url": client.base_url})
        return {"skipped": True}
    result = store.load(client, history_days=get_settings().index_history_days)
    log.info("index data loaded", extra=result.summary())
    return result.summary()
