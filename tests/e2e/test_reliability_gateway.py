"""Issue 17, finding 10: the local WebSocket gateway answers every bad frame (``{}``, deep
nesting, huge numbers) and keeps the socket, never routes ``{"action":"$disconnect"}`` to the
lifecycle handler, and its own errors follow the contract's error shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from support.cloud import Limits, start_cloud
from websockets.sync.client import connect

from kstock_local.cloud.gateway.websocket import select_route

TEMPLATE = Path(__file__).resolve().parents[1] / "support" / "local_cloud" / "template.yaml"
ROUTES = {"$connect": 1, "$disconnect": 2, "$default": 3, "echo": 4}


@pytest.fixture(scope="module")
def cloud(services, moto_endpoint):
    with start_cloud(
        TEMPLATE,
        moto_endpoint,
        dict(services),
        ws_limits=Limits(idle_timeout=600, max_duration=7200),
        market_always_open=True,
    ) as running:
        yield running


@pytest.fixture
def r(services):
    return redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)


def disconnects(r, connection_id: str) -> int:
    return sum(
        1
        for raw in r.lrange("probe:events", 0, -1)
        if (e := json.loads(raw))["kind"] == "disconnect"
        and e["event"]["requestContext"]["connectionId"] == connection_id
    )


HOSTILE = [
    "{}",
    json.dumps({"action": "$disconnect"}),
    json.dumps({"action": "$connect"}),
    "[" * 10_000 + "]" * 10_000,  # deeper than json can parse, under the 32 KB frame limit
    '{"action": ' + "9" * 5000 + "}",
    '{"action": {"nested": true}}',
]


@pytest.mark.parametrize("frame", HOSTILE, ids=["empty", "disconnect", "connect", "nesting", "huge-number", "object"])
def test_select_route_sends_hostile_frames_to_default(frame):
    assert select_route("$request.body.action", frame, ROUTES) == "$default"


def test_hostile_frames_are_answered_and_the_socket_stays(cloud, r):
    with connect(f"{cloud.ws_url}?token=let-me-in", open_timeout=30, max_size=None) as ws:
        ws.send(json.dumps({"action": "echo", "who": "me"}))
        first = json.loads(ws.recv(timeout=30))
        assert first["route"] == "echo"
        # the probe does not echo the connection id: the newest echo event carries it
        connection_id = next(
            json.loads(raw)["event"]["requestContext"]["connectionId"]
            for raw in reversed(r.lrange("probe:events", 0, -1))
            if json.loads(raw)["kind"] == "echo"
        )
        for frame in HOSTILE:
            ws.send(frame)
            reply = json.loads(ws.recv(timeout=30))
            assert reply["route"] == "$default", frame[:40]
        ws.send(json.dumps({"action": "echo"}))
        assert json.loads(ws.recv(timeout=30))["route"] == "echo"  # still usable
        assert disconnects(r, connection_id) == 0  # {"action":"$disconnect"} ran no lifecycle handler


def test_a_failing_route_answers_in_the_error_shape(cloud):
    with connect(f"{cloud.ws_url}?token=let-me-in", open_timeout=30) as ws:
        ws.send("crash")
        reply = json.loads(ws.recv(timeout=30))
        assert (reply["type"], reply["code"], reply["message"]) == ("error", "INTERNAL_ERROR", "Internal server error")
        ws.send(json.dumps({"action": "echo"}))
        assert json.loads(ws.recv(timeout=30))["route"] == "echo"
