"""Fixtures that run real local AWS services: a moto server and the template-driven local cloud
in a background event loop (tests talk to them over real sockets)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kstock import aws
from kstock_local.cloud.gateway.websocket import Limits
from kstock_local.cloud.runtime import LocalCloud, Ports
from kstock_local.embedded import free_port, port_open

# A deadline in a test is a condition's last chance, never a speed target (those live in
# `kstock bench`): on a machine busy with other work everything may take several times longer.
PATIENCE = 4.0
MIN_DEADLINE = 30.0


def patient(timeout: float) -> float:
    """The seconds a test really waits for something a quiet machine does within ``timeout``."""
    return max(timeout * PATIENCE, MIN_DEADLINE)


def wait_for(predicate, timeout: float = 15.0, what: str = "condition", interval: float = 0.05):
    timeout = patient(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sqs_of(cloud: LocalCloud):
    """An SQS client of a local cloud's AWS endpoint, from kstock's one client factory."""
    return aws.client("sqs", endpoint_url=cloud.endpoint, region=cloud.region)


def parked(sqs, dlq_url: str, count: int, what: str = "messages in the DLQ") -> list[str]:
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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: port_open("127.0.0.1", port), 30, "moto server")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class CloudThread:
    """A LocalCloud served by an event loop in a daemon thread."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coroutine, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __enter__(self) -> LocalCloud:
        self._thread.start()
        self.run(self.cloud.start())
        return self.cloud

    def __exit__(self, *exc) -> None:
        self.run(self.cloud.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


def start_cloud(template: Path, endpoint: str, environment: dict[str, str], **kwargs) -> CloudThread:
    ports = Ports(http=free_port(), websocket=free_port())
    return CloudThread(LocalCloud(template, endpoint, environment, ports=ports, **kwargs))


__all__ = ["CloudThread", "Limits", "start_cloud", "wait_for", "moto_endpoint", "parked", "patient", "sqs_of"]
