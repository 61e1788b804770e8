"""``python -m kstock_local.cloud.moto_server``: moto's server, quiet, with DynamoDB made thread-safe.

moto logs every request through werkzeug (one line a second from the SQS pollers alone), which
buries kstock's own lines in the `make up` console. Its access log is off unless KSTOCK_LOG_AWS=1;
warnings and errors still show.

DynamoDB requests are served one at a time (:func:`serialize_dynamodb`). moto's server is threaded,
but its DynamoDB is not safe under concurrent requests: ``transact_write_items`` deep-copies every
table it touches before applying the items and, when any item is cancelled, puts the copy back, so
writes other requests made meanwhile vanish (and a copy taken while another thread writes fails
with "dictionary changed size during iteration"); Scans and Queries iterate the same dicts. Real
DynamoDB applies a transaction atomically; a lock is the laptop's equivalent (issue 17's subscribe
flood left registry rows no connection held). Laptop only: nothing here runs in AWS.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

from kstock_local.settings import get_local_settings

_DYNAMODB_LOCK = threading.Lock()


def serialize_dynamodb() -> None:
    """Run every DynamoDB API call of this process under one lock (idempotent)."""
    if getattr(DynamoHandler.call_action, "_kstock_serialized", False):
        return
    unlocked = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with _DYNAMODB_LOCK:
            return unlocked(self)

    call_action._kstock_serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


if __name__ == "__main__":
    if not get_local_settings().kstock_log_aws:
        # werkzeug configures its logger only while it is unset: a level set first is kept
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    serialize_dynamodb()
    main(sys.argv[1:])  # serves until interrupted
    sys.exit(0)
