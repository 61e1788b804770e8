"""Helpers of the live-price tests (tests/e2e/test_ws_live.py and the pages built on it): tokens, the
simulator's trades, WebSocket clients that subscribe and read until a message arrives. The fixtures that
run the path (``env``, ``r``, ``cloud``, ``sim``, ``streamer``) are in tests/fixtures/live.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

from kstock_local.cloud.runtime import LocalCloud
from kstock_local.kis_sim import SimulatorThread
from support.waiting import Deadline, wait_for

SECRET = "test-only-signing-key-not-a-real-secret"
SYMBOLS = ["005930", "000660", "035420", "005380", "051910", "006400"]
TICK_KEYS = {"type", "symbol", "price", "volume", "accVolume", "change", "changePercent", "timestamp", "source"}


def token(user_id: int = 7) -> str:
    from kstock.auth import tokens

    return tokens.issue(user_id)


def emit(sim: SimulatorThread, symbol: str, count: int = 1) -> None:
    sim.call(lambda s: s.emit_trades(symbol, count))


def state(sim: SimulatorThread, symbol: str) -> tuple[int, int]:
    """The simulator's (accumulated volume, price) of a symbol: what its last trade record said."""
    return sim.call(lambda s: (s.market.security(symbol).acc_volume, s.market.security(symbol).price))


def recv_json(ws: ClientConnection, timeout: float = 10.0) -> Any:
    return json.loads(ws.recv(timeout=timeout))


def recv_until(
    ws: ClientConnection, predicate: Callable[[Any], bool], timeout: float = 10.0, what: str = "message"
) -> tuple[Any, list[Any]]:
    """Read until a message matches; return it and everything read before it."""
    deadline = Deadline(timeout, what)
    seen: list[Any] = []
    while True:
        left = deadline.left()
        if left <= 0:
            raise deadline.fail(f"; got {seen[-5:]}")
        try:
            message = recv_json(ws, left)
        except TimeoutError:
            continue
        if predicate(message):
            return message, seen
        seen.append(message)


def connection_of(cloud: LocalCloud, before: set[str]) -> str:
    return wait_for(lambda: next(iter(set(cloud.websocket.connections) - before), None), 10, "the gateway's id")


def open_client(cloud: LocalCloud, user_id: int = 7) -> tuple[ClientConnection, str]:
    before = set(cloud.websocket.connections)
    ws = connect(f"{cloud.ws_url}?token={token(user_id)}", open_timeout=15)
    return ws, connection_of(cloud, before)


def subscribe(
    ws: ClientConnection, symbols: list[str] | None = None, topics: list[str] | None = None, **extra: Any
) -> Any:
    message = {
        "action": "subscribe",
        **({"symbols": symbols} if symbols else {}),
        **({"topics": topics} if topics else {}),
        **extra,
    }
    ws.send(json.dumps(message))
    reply, _ = recv_until(ws, lambda m: m["type"] in ("subscribed", "error"), 15, "subscribe ack")
    assert reply["type"] == "subscribed", reply
    return reply
