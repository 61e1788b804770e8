"""BackfillQueue: one company's daily history from KIS per message (``kstock backfill``, favorites,
holdings). A malformed request raises and ends in BackfillDeadLetterQueue; KIS trouble raises and
the message comes back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kstock import cache, db, keys
from kstock.datastatus import DAILY_BARS, mark_refreshed_symbols
from kstock.kis.rest import shared_client
from kstock.logs import get_logger
from kstock.ticks.backfill import BackfillRequest, backfill_daily

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.workers")
_processor = BatchProcessor(event_type=EventType.SQS)


def _backfill_record(record: SQSRecord) -> None:
    request = BackfillRequest.model_validate(json.loads(record.body))
    with db.transaction() as conn:
        written = backfill_daily(conn, shared_client(), request)
        mark_refreshed_symbols(conn, [request.symbol], DAILY_BARS)
    log.info("backfilled", extra={"symbol": request.symbol, "bars": written})
    if request.job:
        cache.client().hincrby(keys.backfill_progress(request.job), "done", 1)


def load_daily_bars(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_backfill_record, processor=_processor, context=context)
