"""WebSocket clients of the stack on one background event loop: subscribers that record every
message with the moment it arrived, and a flood of sockets from one token.

Subscribers never reconnect: the faults must keep *existing* subscriptions alive, so a subscriber
whose socket closes stays closed (and says when).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

T = TypeVar("T")
OPEN_TIMEOUT = 60.0
# 300 connects of a flood queue behind each other in the connect function's pool on a small machine
FLOOD_OPEN_TIMEOUT = 300.0


@dataclass
class Received:
    at: float  # time.monotonic() when it arrived
    message: dict[str, Any]


@dataclass
class Subscriber:
    name: str
    symbols: list[str]
    messages: list[Received] = field(default_factory=list)
    closed_at: float | None = None
    socket: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None

    def ticks(self, since: float = 0.0, source: str | None = None) -> list[Received]:
        return [
            r
            for r in list(self.messages)
            if r.at > since
            and r.message.get("type") == "tick"
            and (source is None or r.message.get("source") == source)
        ]

    def first_tick_after(self, since: float, source: str | None = "ws") -> float | None:
        found = self.ticks(since, source)
        return found[0].at if found else None

    def status_after(self, since: float, stream: str) -> float | None:
        """When the first ``{"type":"status","stream":<stream>}`` after ``since`` arrived."""
        for r in list(self.messages):
            if r.at > since and r.message.get("type") == "status" and r.message.get("stream") == stream:
                return r.at
        return None

    def latest_acc_volume(self, symbol: str) -> int | None:
        """The newest accumulated volume a KIS trade tick of ``symbol`` carried."""
        for r in reversed(list(self.messages)):
            m = r.message
            if m.get("type") == "tick" and m.get("symbol") == symbol and m.get("source") == "ws":
                return int(m["accVolume"])
        return None


@dataclass
class FloodOutcome:
    """What ``count`` connects of one token met."""

    accepted: list[ClientConnection] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)  # HTTP status -> connects refused with it
    failed: list[str] = field(default_factory=list)  # neither accepted nor refused with a status
    replies: dict[str, int] = field(default_factory=dict)  # first reply to the subscribe: type or error code


class SocketPool:
    """The clients' event loop in a daemon thread; every call blocks until its coroutine is done."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="chaos-sockets", daemon=True)
        self._thread.start()
        self.subscribers: list[Subscriber] = []
        self._flood: list[ClientConnection] = []
        self._drains: set[asyncio.Task[None]] = set()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 600) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    # -- subscribers ---------------------------------------------------------------------------

    def subscribe(self, name: str, token: str, symbols: list[str]) -> Subscriber:
        """Open a socket, subscribe (tick mode) and wait for the ``subscribed`` answer."""
        subscriber = Subscriber(name, symbols)
        self.run(self._open(subscriber, token))
        self.subscribers.append(subscriber)
        return subscriber

    async def _open(self, subscriber: Subscriber, token: str) -> None:
        socket = await connect(f"{self.ws_url}?token={token}", open_timeout=OPEN_TIMEOUT, max_size=None)
        subscriber.socket = socket
        await socket.send(json.dumps({"action": "subscribe", "symbols": subscriber.symbols}))
        async with asyncio.timeout(OPEN_TIMEOUT):
            while True:
                reply = json.loads(await socket.recv())
                subscriber.messages.append(Received(time.monotonic(), reply))
                if reply.get("type") == "subscribed":
                    break
                if reply.get("type") == "error":
                    raise AssertionError(f"{subscriber.name}: subscribe refused: {reply}")
        subscriber.reader = asyncio.create_task(self._read(subscriber, socket))

    @staticmethod
    async def _read(subscriber: Subscriber, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    subscriber.messages.append(Received(time.monotonic(), message))
        except ConnectionClosed:
            pass
        finally:
            subscriber.closed_at = time.monotonic()

    def refused_status(self, token: str) -> int | None:
        """The HTTP status a connect with ``token`` is refused with (None: it was accepted, then closed)."""

        async def attempt() -> int | None:
            try:
                socket = await connect(f"{self.ws_url}?token={token}", open_timeout=OPEN_TIMEOUT)
            except InvalidStatus as refused:
                return int(refused.response.status_code)
            await socket.close()
            return None

        return self.run(attempt())

    # -- one user's flood ------------------------------------------------------------------------

    def flood(self, token: str, count: int, symbols: list[str]) -> FloodOutcome:
        """``count`` concurrent connects of one token; each accepted socket subscribes to ``symbols``."""
        return self.run(self._flood_all(token, count, symbols))

    async def _flood_all(self, token: str, count: int, symbols: list[str]) -> FloodOutcome:
        outcome = FloodOutcome()
        await asyncio.gather(*(self._flood_one(token, symbols, outcome) for _ in range(count)))
        self._flood.extend(outcome.accepted)
        return outcome

    async def _flood_one(self, token: str, symbols: list[str], outcome: FloodOutcome) -> None:
        try:
            socket = await connect(f"{self.ws_url}?token={token}", open_timeout=FLOOD_OPEN_TIMEOUT, max_size=None)
        except InvalidStatus as refused:
            status = int(refused.response.status_code)
            outcome.refused[status] = outcome.refused.get(status, 0) + 1
            return
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            outcome.failed.append(f"{type(exc).__name__}: {exc}"[:200])
            return
        outcome.accepted.append(socket)
        try:
            await socket.send(json.dumps({"action": "subscribe", "symbols": symbols}))
            async with asyncio.timeout(OPEN_TIMEOUT):
                reply: dict[str, Any] = {}
                while reply.get("type") not in ("subscribed", "error"):  # ticks may come before the answer
                    reply = json.loads(await socket.recv())
            kind = str(reply.get("code") or reply.get("type"))
        except (ConnectionClosed, TimeoutError) as exc:
            kind = type(exc).__name__
        outcome.replies[kind] = outcome.replies.get(kind, 0) + 1
        # read and drop what the socket is sent: an unread socket would stall its sender
        self._drains.add(asyncio.create_task(self._drain(socket)))

    @staticmethod
    async def _drain(socket: ClientConnection) -> None:
        try:
            async for _ in socket:
                pass
        except ConnectionClosed:
            pass

    def close_flood(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(socket.close() for socket in self._flood), return_exceptions=True)

        self.run(close_all())
        self._flood.clear()
        self._drains.clear()

    # -- the end -----------------------------------------------------------------------------------

    def close(self) -> None:
        async def close_all() -> None:
            sockets = [s.socket for s in self.subscribers if s.socket is not None] + self._flood
            await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)

        try:
            self.run(close_all(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
