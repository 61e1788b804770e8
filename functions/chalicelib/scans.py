"""Scan entry points (issue 15): the ScanQueue chunk worker and the daily 15:40 KST scan.

A chunk message no retry can process (not JSON, not a chunk, naming a run that does not exist)
raises, so the redrive policy parks it in ScanDeadLetterQueue; a redelivered chunk is recognised
by its (run, chunk) row and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kstock.logs import get_logger
from kstock.scans import service

log = get_logger("kstock.scans")
_processor = BatchProcessor(event_type=EventType.SQS)

# The daily scan: the whole market, every symbol graded; the top 30 answered by score.
DAILY_REQUEST = service.ScanRequest(market="ALL", exclude_elw=True, max_tickers=service.MAX_TICKERS, top_n=30)


def _chunk_record(record: SQSRecord) -> None:
    message = service.ChunkMessage.model_validate_json(record.body)  # malformed: raises, ends in the DLQ
    counted = service.run_chunk(message)
    log.info("scan chunk", extra={"scan_id": message.scan_id, "chunk": message.chunk, "counted": counted})


def chunk_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_chunk_record, processor=_processor, context=context)


def daily_scan(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One ALL scan per trading day (a second firing on the same day finds the run and queues nothing)."""
    scan_id = service.start_scan(DAILY_REQUEST, trigger="schedule")
    log.info("daily scan started", extra={"scan_id": scan_id})
    return {"scanId": scan_id}
