"""NewsQueue: one company's or industry's news from Naver per message (issue 13).

A spent daily Naver quota is logged and acknowledged: the next schedule run asks again, and retrying
today would only burn receives. Anything else that fails raises (the queue retries, then the DLQ).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kstock import db
from kstock.datastatus import NEWS, mark_refreshed
from kstock.logs import get_logger
from kstock.news.errors import NaverQuotaExceeded
from kstock.news.ingest import InvalidNewsQuery, NewsQuery, ingest
from kstock.news.naver import NaverNewsClient

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.workers")
_processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def _naver() -> NaverNewsClient:
    """One Naver client per execution environment (its HTTP session is reused across invocations)."""
    return NaverNewsClient.from_settings()


def _query(record: SQSRecord) -> NewsQuery:
    try:
        body = json.loads(record.body)
    except ValueError as exc:
        raise InvalidNewsQuery(f"not JSON: {record.body[:80]!r}") from exc
    if not isinstance(body, dict):
        raise InvalidNewsQuery(f"not an object: {record.body[:80]!r}")
    return NewsQuery.parse(body)


def _news_record(record: SQSRecord) -> None:
    query = _query(record)
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


def ingest_news(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_news_record, processor=_processor, context=context)
