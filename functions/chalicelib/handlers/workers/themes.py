"""ThemeClassifyQueue (issue 14): one rank-watch entrant classified into a theme per message.

A message no retry can process (not JSON, malformed, a symbol no company has) raises, so the
redrive policy parks it in ThemeClassifyDeadLetterQueue after its receives. LLM trouble never fails
a record (the chain falls back to rules, then 미분류 with a retry that rank watch queues later); a
database or SQS failure raises and the message comes back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kstock.logs import get_logger
from kstock.themes import service
from kstock.themes.rankwatch import ClassifyRequest, InvalidThemeRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.themes")
_processor = BatchProcessor(event_type=EventType.SQS)


def _classify_record(record: SQSRecord) -> None:
    try:
        body = json.loads(record.body)
    except ValueError as exc:
        raise InvalidThemeRequest(f"not JSON: {record.body[:80]!r}") from exc
    request = ClassifyRequest.parse(body)
    outcome = service.classify_entrant(request)  # the process's Gemini client (kstock.llm)
    answer = outcome.classification
    log.info(
        "entrant classified",
        extra={
            "symbol": request.symbol,
            "theme": answer.theme,
            "classifier": answer.classifier,
            "replayed": outcome.replayed,
            "fallback": answer.fallback,
            "retry": answer.retry,
        },
    )


def classify(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_classify_record, processor=_processor, context=context)
