"""SQS workers: each record is one unit of work; a failed record is reported back (it returns to
its queue and, after maxReceiveCount, to the DLQ) while the others complete."""

from __future__ import annotations

import json
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
    request = BackfillRequest.model_validate(json.loads(record.body))
    with db.transaction() as conn:
        written = backfill_daily(conn, shared_client(), request)
    log.info("backfilled", extra={"symbol": request.symbol, "bars": written})
    if request.job:
        cache.client().hincrby(keys.backfill_progress(request.job), "done", 1)


def backfill(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_backfill_record, processor=_processor,
                                    context=context)
