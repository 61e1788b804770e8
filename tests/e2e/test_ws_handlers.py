"""The production WebSocket handlers of template.yaml, on the local cloud over real sockets."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
from support.cloud import start_cloud
from support.paths import PROJECT_ROOT
from support.waiting import wait_for
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from kstock.config import reload_settings

SECRET = "test-only-signing-key-not-a-real-secret"


@pytest.fixture(scope="module")
def cloud(services, database, moto_endpoint):
    env = {**services, "JWT_SECRET": SECRET}
    with start_cloud(PROJECT_ROOT / "template.yaml", moto_endpoint, env) as running:
        yield running


@pytest.fixture
def local_settings(cloud, monkeypatch):
    """This process talks to the same moto and signs with the same key as the functions."""
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", cloud.endpoint)
    reload_settings()
    yield
    monkeypatch.undo()
    reload_settings()


def token(user_id: int = 7) -> str:
    from kstock.auth import tokens

    return tokens.issue(user_id)


def test_valid_token_connects_and_ping_answers_pong(cloud, local_settings):
    from kstock.realtime import registry

    with connect(f"{cloud.ws_url}?token={token(7)}", open_timeout=15) as ws:
        ws.send(json.dumps({"action": "ping"}))
        assert json.loads(ws.recv(timeout=15)) == {"type": "pong"}
        connection_id = next(iter(cloud.websocket.connections))
        info = registry.get(connection_id)
        assert info is not None and info.user_id == 7 and info.stage == "Prod"
    wait_for(lambda: registry.get(connection_id) is None, 15, "$disconnect to remove the connection")


@pytest.mark.parametrize("raw", ["not json", "[1]", json.dumps({"action": "dance"})])
def test_bad_input_gets_an_error_and_the_socket_stays_usable(cloud, local_settings, raw):
    with connect(f"{cloud.ws_url}?token={token()}", open_timeout=15) as ws:
        ws.send(raw)
        reply = json.loads(ws.recv(timeout=15))
        assert reply["type"] == "error" and reply["code"] == "INVALID_REQUEST"
        ws.send(json.dumps({"action": "ping"}))
        assert json.loads(ws.recv(timeout=15)) == {"type": "pong"}


@pytest.mark.parametrize("query", ["", "?token=garbage", "?token=eyJhbGciOiJIUzI1NiJ9.e30.x"])
def test_missing_or_invalid_token_is_refused_at_connect(cloud, local_settings, query):
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{cloud.ws_url}{query}", open_timeout=15)
    assert refused.value.response.status_code == 401


def test_revoked_token_is_refused(cloud, local_settings):
    from kstock.auth import tokens

    issued = token(9)
    tokens.revoke(tokens.verify(issued))
    with pytest.raises(InvalidStatus):
        connect(f"{cloud.ws_url}?token={issued}", open_timeout=15)


def test_scheduled_jobs_keep_tick_partitions_ahead(cloud, database):
    # LocalFunction.invoke only needs some running loop to await its worker process
    asyncio.run(cloud.functions.get("TickPartitionsFunction").invoke({}))
    again = asyncio.run(cloud.functions.get("TickPartitionsFunction").invoke({}))
    assert again["created"] == 0  # the partitions ahead exist now: a second run adds none
    with psycopg.connect(database) as conn:
        parts = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'stock_ticks'::regclass").fetchone()
    assert parts[0] >= 4
    retention = asyncio.run(cloud.functions.get("RetentionFunction").invoke({}))
    assert set(retention["bars_deleted"]) == {"ohlcv_1m", "ohlcv_15m", "ohlcv_1h"}
