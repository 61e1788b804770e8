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

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
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


# -- transactions without moto's whole-table copy -----------------------------------------------------


def _key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _holds(backend: DynamoDBBackend, op: dict[str, Any], key: dict[str, Any]) -> bool:
    """Whether the action's condition holds for the item as it is now (no condition: it holds)."""
    expression = op.get("ConditionExpression")
    if expression is None:
        return True
    condition = get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    return bool(condition.expr(backend.get_item(op["TableName"], key)))


def _check_then_apply(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """Condition checks, puts and deletes: every condition judged first, then all applied or none.

    Served under :data:`_DYNAMODB_LOCK`, nothing changes between the two phases, so this is atomic
    without moto's deep copy of every touched table (its cost grows with the table: under the fault
    suite's subscribe flood each transaction copied thousands of registry items, serialized)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    actions, seen, failed = [], set(), False
    reasons: list[tuple[str | None, str | None, None]] = []
    for item in transact_items:
        ((op_type, op),) = item.items()
        key = _key(backend, op_type, op)
        identity = (op["TableName"], str(sorted(key.items())))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        holds = _holds(backend, op, key)
        failed |= not holds
        reasons.append(
            (None, None, None) if holds else ("ConditionalCheckFailed", "The conditional request failed", None)
        )
        actions.append((op_type, op, key))
    if failed:
        raise TransactionCanceledException(reasons)
    for op_type, op, key in actions:
        if op_type == "Put":
            backend.put_item(op["TableName"], op["Item"])
        elif op_type == "Delete":
            backend.delete_item(op["TableName"], key)


def fast_transactions() -> None:
    """Transactions of condition checks, puts and deletes (the registry's) skip moto's table copy;
    one with an Update (or anything else) goes to moto's own. Needs :func:`serialize_dynamodb`."""
    if getattr(DynamoDBBackend.transact_write_items, "_kstock_fast", False):
        return
    moto_own = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        simple = all(_simple(item) for item in transact_items)
        if not simple or len(transact_items) > 100:
            return moto_own(self, transact_items)
        return _check_then_apply(self, transact_items)

    transact_write_items._kstock_fast = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# -- queries that read their partition, not the whole table ----------------------------------------------

_QUERIED = threading.local()  # the hash key of the table-key Query this thread is serving, if any


def partition_queries() -> None:
    """A Query by the table's own hash key reads that key's items, not every item of the table.

    moto 5.2's ``Table.query`` (without an index) filters ``all_items()``, which sorts the whole table on
    each call: every WebSocket ``$connect`` Queries its user's partition (the per-user connection limit), so
    connecting N clients cost O(N^2 log N) and 1,000 took ~40 s of moto's CPU (py-spy: 28% of it in
    ``all_items``). The partition holds the same items in the same order. Index queries stay moto's own."""
    if getattr(Table.query, "_kstock_partition", False):
        return
    moto_query, moto_all_items = Table.query, Table.all_items

    def all_items(self: Table) -> list[Any]:
        hash_key = getattr(_QUERIED, "hash_key", None)
        if hash_key is None:
            return moto_all_items(self)
        partition = self.items.get(hash_key)
        if partition is None:
            return []
        items = list(partition.values()) if self.range_key_attr else [partition]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")  # moto's 8th positional
        if index_name or hash_key is None:
            return moto_query(self, hash_key, *args, **kwargs)
        _QUERIED.hash_key = hash_key
        try:
            return moto_query(self, hash_key, *args, **kwargs)
        finally:
            _QUERIED.hash_key = None

    query._kstock_partition = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


_SIMPLE = frozenset({"ConditionCheck", "Put", "Delete"})


def _simple(item: dict[str, Any]) -> bool:
    """One condition check, put or delete that wants no old item back on a failure."""
    if len(item) != 1:
        return False
    ((op_type, op),) = item.items()
    return op_type in _SIMPLE and not op.get("ReturnValuesOnConditionCheckFailure")


if __name__ == "__main__":
    if not get_local_settings().kstock_log_aws:
        # werkzeug configures its logger only while it is unset: a level set first is kept
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    serialize_dynamodb()
    fast_transactions()
    partition_queries()
    main(sys.argv[1:])  # serves until interrupted
    sys.exit(0)
