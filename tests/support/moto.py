"""The local cloud's moto server (``kstock_local.cloud.moto_server``: the one ``kstock up`` runs, DynamoDB
served one request at a time with atomic transactions) on a free loopback port, for a test module."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kstock_local.embedded import free_port, port_open
from support.waiting import wait_for


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Yield the endpoint URL (on ``port``, else a free one); the server stops when the block ends."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kstock_local.cloud.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: port_open("127.0.0.1", port), 30, "moto server")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a server still busy with a burst of requests: the test is over anyway
            proc.kill()
            proc.wait()
