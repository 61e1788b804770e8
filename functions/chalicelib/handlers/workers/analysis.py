"""AnalysisQueue (issue 16): one company's or industry's AI outlook for the day per message.

A message no retry can process (malformed, naming a company or industry that does not exist) raises,
so the redrive policy parks it in AnalysisDeadLetterQueue after its receives. Gemini trouble never
fails a record: the analysis falls back to rules with the reason stored and logged. A database or SQS
failure raises and the message comes back; its claim on the day's row expires, so the retry can take it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kstock.analysis import service
from kstock.logs import get_logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.analysis")
_processor = BatchProcessor(event_type=EventType.SQS)


def _analysis_record(record: SQSRecord) -> None:
    request = service.AnalysisRequest.model_validate_json(record.body)  # malformed: raises, ends in the DLQ
    result = service.compute(request)  # NotFound for a vanished id: raises, ends in the DLQ
    log.info(
        "analysis computed",
        extra={
            "subject": request.subject,
            "id": request.id,
            "day": request.day.isoformat(),
            "model": result.model,
            "fallback": result.fallback_reason,
            "tokens": result.total_tokens,
        },
    )


def compute(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_analysis_record, processor=_processor, context=context)
