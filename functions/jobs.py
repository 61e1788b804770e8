"""Scheduled jobs (EventBridge): thin wrappers over the core."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from kstock import db
from kstock.config import get_settings
from kstock.kis.rest import shared_client
from kstock.logs import get_logger
from kstock.ticks import maintenance, ohlcv

log = get_logger("kstock.jobs")


def tick_partitions(event: dict[str, Any], context: Any) -> dict[str, int]:
    with db.transaction() as conn:
        created = maintenance.ensure_partitions(conn)
    log.info("tick partitions ensured", extra={"partitions_created": created})
    return {"created": created}


def ohlcv_rollup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with db.transaction() as conn:
        result = ohlcv.rollup(conn, lookback_minutes=get_settings().ohlcv_rollup_lookback_minutes)
    log.info("ohlcv rolled up", extra={"rows": result.rows})
    return {"since": result.since.isoformat(), "rows": result.rows}


def retention(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with db.transaction() as conn:
        result = maintenance.apply_retention(conn)
    log.info("retention applied", extra=asdict(result))
    return asdict(result)


# -- market data (issue 7) ------------------------------------------------------------------------

def market_data(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Market caps, listed shares and quotes from KIS; drops the caches built on the old ones."""
    from kstock.marketdata import refresh

    if refresh.kis_unreachable():
        log.warning("KIS simulator not running: market data not refreshed")
        return {"skipped": 1}
    requested = event.get("batchSize")  # an operator's (or the first `kstock up`'s) full refresh
    batch_size = requested if isinstance(requested, int) and requested > 0 else get_settings().market_data_batch_size
    result = refresh.refresh(shared_client(), batch_size=batch_size, deadline=refresh.deadline_of(context))
    log.info("market data refreshed", extra=result.summary())
    return result.summary()


def index_data(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """KOSPI / KOSDAQ (and KOSPI200) values and daily history from KIS into index_data."""
    from kstock.indices import store
    from kstock.marketdata.refresh import kis_unreachable

    if kis_unreachable():
        log.warning("KIS simulator not running: index data not loaded")
        return {"skipped": True}
    result = store.load(shared_client(), history_days=get_settings().index_history_days)
    log.info("index data loaded", extra=result.summary())
    return result.summary()
