"""ScanQueue (issue 15): one chunk of a scan run's symbols graded per message.

A chunk message no retry can process (not JSON, not a chunk, naming a run that does not exist)
raises, so the redrive policy parks it in ScanDeadLetterQueue; a redelivered chunk is recognised
by its (run, chunk) row and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kstock.logs import get_logger
from kstock.scans import service

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.scans")
_processor = BatchProcessor(event_type=EventType.SQS)


def _chunk_record(record: SQSRecord) -> None:
    message = service.ChunkMessage.model_validate_json(record.body)  # malformed: raises, ends in the DLQ
    counted = service.run_chunk(message)
    log.info("scan chunk", extra={"scan_id": message.scan_id, "chunk": message.chunk, "counted": counted})


def grade_chunks(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_chunk_record, processor=_processor, context=context)
