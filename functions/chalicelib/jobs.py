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


# -- news, filings and financials (issue 13) --------------------------------------------------------


def news_schedule(event: dict[str, Any], context: Any) -> dict[str, int]:
    """One NewsQueue message per company and industry: NewsIngestFunction fetches and stores."""
    from kstock import loads
    from kstock.news.ingest import queries_for

    with db.read() as conn:
        queries = queries_for(conn)
    sent = loads.queue_news(queries)
    log.info("news queries queued", extra={"queries": len(queries), "sent": sent})
    return {"queries": len(queries), "sent": sent}


def dart_corp_codes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Monthly: corpCode.xml -> dart_corp_codes (the map from DART's corp_code to the stock code)."""
    from kstock.dart.client import DartClient
    from kstock.dart.sync import sync_corp_codes

    with DartClient.from_settings() as client:
        result = sync_corp_codes(client)
    log.info("DART corp codes synced", extra=asdict(result))
    return asdict(result)


def dart_filings(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Daily after 18:00 KST: one market-wide search for the new filings of every backfilled company;
    companies never searched go to DartQueue in small batches (their three-year backfill)."""
    from kstock import loads
    from kstock.dart.client import DartClient
    from kstock.dart.requests import requests_for
    from kstock.dart.sync import sync_filings, unbackfilled_symbols

    with DartClient.from_settings() as client:
        result = sync_filings(client, backfill=False)
    pending = unbackfilled_symbols()
    sent = loads.queue_dart(requests_for(pending, parts=["filings"]))
    log.info("DART filings synced", extra={**asdict(result), "queued_backfills": len(pending)})
    return {**asdict(result), "queuedBackfills": len(pending), "sent": sent}


def dart_financials(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """After each reporting season: the season's key accounts of every company with a corp code,
    through DartQueue (one call per company, a few companies per message)."""
    from kstock import loads
    from kstock.dart import store
    from kstock.dart.requests import requests_for
    from kstock.dart.sync import latest_season

    year, report_code = latest_season()
    with db.read() as conn:
        symbols = [c["symbol"] for c in store.companies_with_corp_codes(conn)]
    requests = requests_for(symbols, parts=["financials"], years=[year], report_codes=[report_code], size=20)
    sent = loads.queue_dart(requests)
    log.info("DART financials queued", extra={"year": year, "report_code": report_code, "companies": len(symbols)})
    return {"year": year, "reportCode": report_code, "companies": len(symbols), "sent": sent}
