"""``registry.bulk_subscribe`` (the fan-out bench's set-up, issue 18 item 4): one Scan and batch writes
leave the registry as the subscribe handler would for what the fan-out reads on a rebuild.

Against the local cloud's own moto server (``kstock_local.cloud.moto_server``), the table provisioned
from template.yaml.
"""

from __future__ import annotations

import uuid

import pytest

from kstock.realtime import registry


def connect(user_id: int) -> str:
    connection_id = f"b{uuid.uuid4().hex[:14]}="
    registry.register(connection_id, user_id=user_id, domain_name="localhost:3001", stage="Prod")
    return connection_id


def test_bulk_subscribe_writes_what_a_rebuild_reads(registry_table: str) -> None:
    first, second, gone = connect(7001), connect(7002), connect(7003)
    registry.remove(gone)  # META deleted: nothing may be subscribed for it

    found = registry.bulk_subscribe(
        {7001: ["005930", "000660"], 7002: ["000660"], 7003: ["035420"], 7004: ["005930"]},
        mode="batch",
        window_ms=250,
    )

    assert found == {7001: first, 7002: second}  # 7003's connection is gone, 7004 never connected
    assert sorted(registry.subscribers_of("000660")) == sorted([first, second])
    assert registry.subscribers_of("005930") == [first]
    assert registry.subscribers_of("035420") == []
    assert sorted(registry.holdings(first).symbols) == ["000660", "005930"]
    infos = registry.get_many([first, second], consistent=True)
    assert {(i.mode, i.window_ms, i.user_id) for i in infos.values()} == {("batch", 250, 7001), ("batch", 250, 7002)}
    assert registry.user_connections(7001) == [first]  # the rewritten META keeps the connection live
    assert set(registry.live_subscriptions()) >= {"005930", "000660"}


def test_bulk_subscribe_refuses_an_unknown_mode(registry_table: str) -> None:
    with pytest.raises(ValueError, match="unknown delivery mode"):
        registry.bulk_subscribe({1: ["005930"]}, mode="burst", window_ms=None)
