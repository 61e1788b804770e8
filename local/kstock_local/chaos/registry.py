"""The connection registry (DynamoDB) read directly, to hold the demand counts against it.

Only the owner items of live connections count: ``CONN#{id}/SYM#{symbol}`` whose ``CONN#{id}/META``
exists, as :func:`kstock.realtime.demand.registered` counts them. Read with a Scan: this is a check
on a test stack, never a request path.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kstock import aws


def _table(client: Any) -> str:
    names = [n for n in client.list_tables()["TableNames"] if "ConnectionsTable" in n]
    if len(names) != 1:
        raise LookupError(f"expected one connections table, found {names}")
    return str(names[0])


def _items(endpoint: str, region: str) -> list[dict[str, Any]]:
    client = aws.client("dynamodb", endpoint_url=endpoint, region=region)
    table = _table(client)
    items: list[dict[str, Any]] = []
    pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    for page in pages:
        items.extend(page["Items"])
    return items


def registered_demand(endpoint: str, region: str) -> dict[str, int]:
    """Subscriptions per symbol of live connections, as the registry holds them."""
    items = _items(endpoint, region)
    live = {i["pk"]["S"] for i in items if i["pk"]["S"].startswith("CONN#") and i["sk"]["S"] == "META"}
    counted = Counter(
        i["sk"]["S"].removeprefix("SYM#") for i in items if i["pk"]["S"] in live and i["sk"]["S"].startswith("SYM#")
    )
    return dict(counted)


def orphans(endpoint: str, region: str) -> dict[str, int]:
    """Items of connections whose ``META`` is gone (what leaked), by kind: ``CONN#`` owner items and
    the ``SYM#`` / ``TOPIC#`` / ``USER#`` index items that name a dead connection."""
    items = _items(endpoint, region)
    live = {i["pk"]["S"] for i in items if i["pk"]["S"].startswith("CONN#") and i["sk"]["S"] == "META"}
    found: Counter[str] = Counter()
    for item in items:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk.startswith("CONN#") and sk != "META" and pk not in live:
            found[f"CONN#/{sk.split('#')[0]}#"] += 1
        elif sk.startswith("CONN#") and sk not in live:
            found[f"{pk.split('#')[0]}#/CONN#"] += 1
    return dict(found)


def user_connections(endpoint: str, region: str, user_id: int) -> int:
    items = _items(endpoint, region)
    return sum(1 for i in items if i["pk"]["S"] == f"USER#{user_id}")
