"""``POST @connections/{id}`` served without aiohttp's request machinery.

The streamer's fan-out makes thousands of these calls a second over a few keep-alive
connections; aiohttp spends about a hundred microseconds of Python on each (request and
response objects, routing, header multidicts), which on a small machine is most of a core taken
from the streamer and the clients the benchmark measures. This protocol sits in front of the
WebSocket gateway's port: it answers ``POST .../@connections/{id}`` requests itself (one at a
time per connection, in order, through :meth:`WebSocketGateway.deliver`, the same code the
aiohttp route uses) and hands any other connection (WebSocket handshakes, the ``/live`` page,
``GET``/``DELETE @connections``, chunked bodies) to aiohttp, buffered bytes included, at a
request boundary.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from kstock_local.cloud.gateway.websocket import WebSocketGateway

_MARKER = b"/@connections/"
_MAX_HEAD = 16 * 1024


async def serve(
    gateway: WebSocketGateway, fallback: Callable[[], asyncio.Protocol], host: str, port: int
) -> tuple[asyncio.Server, Callable[[], None]]:
    """Listen on ``host:port``; returns the server and a function closing the connections it kept."""
    kept: set[ConnectionsFastPath] = set()
    server = await asyncio.get_running_loop().create_server(
        lambda: ConnectionsFastPath(gateway, fallback, kept), host, port
    )

    def close_kept() -> None:
        for protocol in list(kept):
            if protocol.transport is not None:
                protocol.transport.close()

    return server, close_kept


class ConnectionsFastPath(asyncio.Protocol):
    def __init__(
        self, gateway: WebSocketGateway, fallback: Callable[[], asyncio.Protocol], kept: set[ConnectionsFastPath]
    ) -> None:
        self.gateway = gateway
        self.fallback = fallback  # aiohttp's protocol factory (the runner's web.Server)
        self.kept = kept  # the connections this protocol still serves
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False
        self._serving: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.kept.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.kept.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        if self.transport is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            # not a POST, or a head no API client sends: not ours
            if len(self.buffer) > _MAX_HEAD or not b"POST ".startswith(bytes(self.buffer[:5])):
                self._hand_over()
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        method, _, rest = head[0].partition(" ")
        target, _, version = rest.rpartition(" ")
        marker = target.find(_MARKER.decode())
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if (
            method != "POST"
            or marker < 0
            or target[:marker] not in ("", f"/{self.gateway.stage}")
            or "transfer-encoding" in headers
            or "expect" in headers
        ):
            self._hand_over()  # aiohttp's routes answer it (404 for a path no route covers)
            return
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._hand_over()  # aiohttp answers the malformed request
            return
        start = end + 4
        if len(self.buffer) < start + length:
            return  # the rest of the body is on its way
        body = bytes(self.buffer[start : start + length])
        del self.buffer[: start + length]
        connection_id = target[marker + len(_MARKER) :].split("?", 1)[0]
        connection_header = headers.get("connection", "").lower()
        keep_alive = connection_header == "keep-alive" if version == "HTTP/1.0" else connection_header != "close"
        self.busy = True
        self._serving = asyncio.ensure_future(self._serve(connection_id, body, keep_alive))

    async def _serve(self, connection_id: str, body: bytes, keep_alive: bool) -> None:
        try:
            status, error = await self.gateway.deliver(unquote(connection_id), body)
        except Exception:  # the client socket failed in a way deliver does not map: like AWS, a 500
            status, error = 500, {"__type": "InternalServerErrorException", "message": "internal error"}
        payload = b"" if error is None else json.dumps(error).encode()
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Length: {len(payload)}"]
        if error is not None:
            lines += ["Content-Type: application/json", f"x-amzn-ErrorType: {error['__type']}"]
        if not keep_alive:
            lines.append("Connection: close")
        if self.transport is None:
            return
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.busy = False
        if not keep_alive:
            self.transport.close()
        elif self.buffer:
            self._next()

    def _hand_over(self) -> None:
        transport, buffered = self.transport, bytes(self.buffer)
        assert transport is not None  # handed over only while connected
        self.buffer.clear()
        self.kept.discard(self)
        protocol = self.fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if buffered:
            protocol.data_received(buffered)
