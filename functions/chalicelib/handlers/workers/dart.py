"""DartQueue: filings and financials of a few companies per message from OpenDART (issue 13).

A spent daily quota, a key problem or OpenDART maintenance is logged and acknowledged: the next
schedule run asks again, and retrying today would only burn receives. A malformed request raises
and ends in DartDeadLetterQueue.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kstock.dart import requests
from kstock.dart.client import DartClient
from kstock.dart.errors import DartAuthError, DartMaintenance, DartQuotaExceeded
from kstock.logs import get_logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.workers")
_processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def _dart() -> DartClient:
    """One OpenDART client per execution environment (its HTTP session is reused across invocations)."""
    return DartClient.from_settings()


def _dart_record(record: SQSRecord) -> None:
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


def load(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_dart_record, processor=_processor, context=context)
