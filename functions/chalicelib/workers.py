"""SQS workers: each record is one unit of work; a failed record is reported back (it returns to
its queue and, after maxReceiveCount, to the DLQ) while the others complete.

What fails and what is acknowledged: a message no retry can process (malformed, naming nothing
that exists) raises, so the redrive policy parks it in the DLQ after its receives; a transient
provider failure raises too (the queue retries it later); a spent daily quota, a DART key problem
or maintenance is logged and acknowledged: the next schedule run asks again, and retrying today
would only burn receives.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kstock import cache, db, keys
from kstock.kis.rest import shared_client
from kstock.logs import get_logger
from kstock.ticks.backfill import BackfillRequest, backfill_daily

log = get_logger("kstock.workers")
_processor = BatchProcessor(event_type=EventType.SQS)


def _backfill_record(record: SQSRecord) -> None:
    from kstock.datastatus import DAILY_BARS, mark_refreshed_symbols

    request = BackfillRequest.model_validate(json.loads(record.body))
    with db.transaction() as conn:
        written = backfill_daily(conn, shared_client(), request)
        mark_refreshed_symbols(conn, [request.symbol], DAILY_BARS)
    log.info("backfilled", extra={"symbol": request.symbol, "bars": written})
    if request.job:
        cache.client().hincrby(keys.backfill_progress(request.job), "done", 1)


def backfill(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_backfill_record, processor=_processor, context=context)


# -- news (issue 13) ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _naver() -> Any:
    """One Naver client per execution environment (its HTTP session is reused across invocations)."""
    from kstock.news.naver import NaverNewsClient

    return NaverNewsClient.from_settings()


def _news_record(record: SQSRecord) -> None:
    from kstock.datastatus import NEWS, mark_refreshed
    from kstock.news.errors import NaverQuotaExceeded
    from kstock.news.ingest import InvalidNewsQuery, NewsQuery, ingest

    try:
        body = json.loads(record.body)
    except ValueError as exc:
        raise InvalidNewsQuery(f"not JSON: {record.body[:80]!r}") from exc
    if not isinstance(body, dict):
        raise InvalidNewsQuery(f"not an object: {record.body[:80]!r}")
    query = NewsQuery.parse(body)
    try:
        result = ingest(query, _naver())
    except NaverQuotaExceeded as exc:
        log.warning(
            "Naver quota spent: news query acknowledged unfetched", extra={"query": query.message(), "error": str(exc)}
        )
        return
    if query.kind == "company":
        with db.transaction() as conn:
            mark_refreshed(conn, [query.id], NEWS)
    log.info(
        "news ingested",
        extra={
            "query": query.message(),
            "fetched": result.fetched,
            "stored": result.stored,
            "company_links": result.company_links,
            "industry_links": result.industry_links,
        },
    )


_news_processor = BatchProcessor(event_type=EventType.SQS)


def news(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=_news_record, processor=_news_processor, context=context
    )


# -- DART filings and financials (issue 13) -----------------------------------------------------------


@lru_cache(maxsize=1)
def _dart() -> Any:
    from kstock.dart.client import DartClient

    return DartClient.from_settings()


def _dart_record(record: SQSRecord) -> None:
    from kstock.dart import requests
    from kstock.dart.errors import DartAuthError, DartMaintenance, DartQuotaExceeded

    request = requests.DartRequest.model_validate_json(record.body)  # malformed: raises, ends in the DLQ
    try:
        results = requests.run(request, _dart())
    except (DartQuotaExceeded, DartMaintenance, DartAuthError) as exc:
        log.warning(
            "OpenDART refused: DART load acknowledged undone",
            extra={"request": request.message(), "error": type(exc).__name__, "code": exc.code},
        )
        return
    log.info(
        "DART loaded",
        extra={
            "request": request.message(),
            "results": [
                {"kind": r.kind, "fetched": r.fetched, "changed": r.changed, "calls": r.calls, "missing": r.missing}
                for r in results
            ],
        },
    )


_dart_processor = BatchProcessor(event_type=EventType.SQS)


def dart(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=_dart_record, processor=_dart_processor, context=context
    )
