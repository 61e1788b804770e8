"""The template-driven local cloud in a background event loop (tests talk to it over real sockets), and
its SQS queues. The moto server it needs is the ``moto_endpoint`` fixture (tests/fixtures/aws.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from kstock import aws
from kstock_local.cloud.gateway.websocket import Limits
from kstock_local.cloud.runtime import LocalCloud, Ports
from kstock_local.embedded import free_port
from support.waiting import wait_for

T = TypeVar("T")


def sqs_of(cloud: LocalCloud) -> Any:
    """An SQS client of a local cloud's AWS endpoint, from kstock's one client factory."""
    return aws.client("sqs", endpoint_url=cloud.endpoint, region=cloud.region)


def parked(sqs: Any, dlq_url: str, count: int, what: str = "messages in the DLQ") -> list[str]:
    """Take ``count`` message bodies off a dead-letter queue (waiting for them), deleting what it reads."""
    bodies: list[str] = []

    def enough() -> bool:
        answer = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    wait_for(enough, 45, what)
    return bodies


class CloudThread:
    """A LocalCloud served by an event loop in a daemon thread."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __enter__(self) -> LocalCloud:
        self._thread.start()
        self.run(self.cloud.start())
        return self.cloud

    def __exit__(self, *exc: object) -> None:
        self.run(self.cloud.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


def start_cloud(template: Path, endpoint: str, environment: dict[str, str], **kwargs: Any) -> CloudThread:
    ports = Ports(http=free_port(), websocket=free_port())
    return CloudThread(LocalCloud(template, endpoint, environment, ports=ports, **kwargs))


__all__ = ["CloudThread", "Limits", "start_cloud", "parked", "sqs_of"]
