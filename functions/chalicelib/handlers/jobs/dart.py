"""OpenDART (issue 13): the corp-code map, the daily filings search and the season's financials."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from kstock import db, loads
from kstock.dart import store
from kstock.dart.client import DartClient
from kstock.dart.requests import requests_for
from kstock.dart.sync import latest_season, sync_corp_codes, sync_filings, unbackfilled_symbols
from kstock.logs import get_logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.jobs")


def corp_codes(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Monthly: corpCode.xml -> dart_corp_codes (the map from DART's corp_code to the stock code)."""
    with DartClient.from_settings() as client:
        result = sync_corp_codes(client)
    log.info("DART corp codes synced", extra=asdict(result))
    return asdict(result)


def filings(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Daily after 18:00 KST: one market-wide search for the new filings of every backfilled company;
    companies never searched go to DartQueue in small batches (their three-year backfill)."""
    with DartClient.from_settings() as client:
        result = sync_filings(client, backfill=False)
    pending = unbackfilled_symbols()
    sent = loads.queue_dart(requests_for(pending, parts=["filings"]))
    log.info("DART filings synced", extra={**asdict(result), "queued_backfills": len(pending)})
    return {**asdict(result), "queuedBackfills": len(pending), "sent": sent}


def financials(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """After each reporting season: the season's key accounts of every company with a corp code,
    through DartQueue (one call per company, a few companies per message)."""
    year, report_code = latest_season()
    with db.read() as conn:
        symbols = [c["symbol"] for c in store.companies_with_corp_codes(conn)]
    requests = requests_for(symbols, parts=["financials"], years=[year], report_codes=[report_code], size=20)
    sent = loads.queue_dart(requests)
    log.info("DART financials queued", extra={"year": year, "report_code": report_code, "companies": len(symbols)})
    return {"year": year, "reportCode": report_code, "companies": len(symbols), "sent": sent}
