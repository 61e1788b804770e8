"""SQS event sources: poll a queue and invoke its function the way Lambda's event source
mapping does.

Batches of up to BatchSize messages, collected for at most MaximumBatchingWindowInSeconds; a
message is deleted only after the handler succeeded. A handler exception returns the whole batch
(the messages reappear after the queue's visibility timeout); with ``ReportBatchItemFailures``
only the ``batchItemFailures`` it names stay. The queue's redrive policy (enforced by the SQS
service itself) moves a message to its DLQ after maxReceiveCount receives.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from kstock_local.cloud.lambdas.pool import FunctionError, LocalFunction
from kstock_local.cloud.template import SqsEvent


@dataclass
class PollerStats:
    batches: int = 0
    succeeded: int = 0
    failed_batches: int = 0
    retried_items: int = 0


def _lambda_message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in attributes.items()
    }


def to_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as Lambda's SQS event record."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": _lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller:
    def __init__(
        self, source: SqsEvent, function: LocalFunction, sqs: Any, queue_url: str, queue_arn: str, region: str
    ) -> None:
        self.source = source
        self.function = function
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.stats = PollerStats()
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        self._stopped.set()

    def _receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    async def _collect(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages, waiting at most the batching window once the first arrived."""
        batch = await asyncio.to_thread(self._receive, self.source.batch_size, 1)
        if not batch or self.source.batching_window <= 0:
            return batch
        deadline = time.monotonic() + self.source.batching_window
        while len(batch) < self.source.batch_size and not self._stopped.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            batch += await asyncio.to_thread(
                self._receive, self.source.batch_size - len(batch), max(0, min(20, int(remaining)))
            )
        return batch

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    async def poll_once(self) -> int:
        """Receive one batch and hand it to the function; returns how many messages it held."""
        batch = await self._collect()
        if not batch:
            return 0
        self.stats.batches += 1
        event = {"Records": [to_record(m, self.queue_arn, self.region) for m in batch]}
        try:
            result = await self.function.invoke(event)
        except FunctionError:
            self.stats.failed_batches += 1
            return len(batch)  # nothing deleted: every message comes back after the visibility timeout
        keep: set[str] = set()
        if self.source.report_batch_item_failures and isinstance(result, dict):
            failures = result.get("batchItemFailures") or []
            ids = {m["MessageId"] for m in batch}
            keep = {f.get("itemIdentifier") for f in failures}
            if not keep <= ids:  # Lambda treats an unknown identifier as a failure of the whole batch
                self.stats.failed_batches += 1
                return len(batch)
        done = [m for m in batch if m["MessageId"] not in keep]
        await asyncio.to_thread(self._delete, done)
        self.stats.succeeded += len(done)
        self.stats.retried_items += len(keep)
        return len(batch)

    async def run(self) -> None:
        while not self._stopped.is_set():
            await self.poll_once()
