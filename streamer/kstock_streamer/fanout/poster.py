"""A lean HTTP/1.1 keep-alive client for ``POST @connections/{id}``, the fan-out's hot path.

A general client (aiohttp's) spends ~150-200 µs of CPU per request on machinery the fan-out
does not need (cookies, redirects, header multidicts, tracing); at thousands of posts a second
on a small machine that is most of a core and shows up as latency. Here a request is one
``write`` of prebuilt bytes on a pooled connection and a response is a status line, a few
headers and a ``Content-Length`` body (chunked bodies are read too). One request at a time per
connection; idle connections are reused (keep-alive), closed ones replaced; TLS for ``https``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit


class PostError(Exception):
    """The request could not be completed (connection refused or lost, timeout, garbage)."""


class _StaleConnection(PostError):
    pass


class PostTimeout(PostError):
    """No answer in time: the call may have been delivered, so it is never re-sent here."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(PostError(f"connection lost: {exc or 'closed by peer'}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            response = self._parse()
        except (ValueError, IndexError) as exc:
            self.waiter.set_exception(PostError(f"bad response: {exc}"))
            self.close()
            return
        if response is not None:
            self.waiter.set_result(response)

    def _parse(self) -> Response | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body, position = bytearray(), start
            while True:
                line_end = self.buffer.find(b"\r\n", position)
                if line_end < 0:
                    return None
                size = int(bytes(self.buffer[position:line_end]).split(b";")[0], 16)
                if len(self.buffer) < line_end + 2 + size + 2:
                    return None
                body += self.buffer[line_end + 2 : line_end + 2 + size]
                position = line_end + 2 + size + 2
                if size == 0:
                    break
            done = position
        else:
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < start + length:
                return None
            body, done = self.buffer[start : start + length], start + length
        del self.buffer[:done]
        self.keep_alive = headers.get("connection", "").lower() != "close"
        return Response(status, headers, bytes(body))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


@lru_cache(maxsize=65536)
def _target(url: str) -> tuple[tuple[str, str, int], str]:
    """``((scheme, host, port), "POST <path> HTTP/1.1 + Host line")``: the same for every post to a URL."""
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    head = f"POST {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    return (scheme, parts.hostname or "", port), head


def _expire(connection: _Connection, waiter: asyncio.Future[Response], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(PostTimeout(f"no answer within {timeout}s"))
        connection.close()


class Poster:
    """Pooled connections per origin; callers bound their own concurrency (one request per connection)."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def _connect(self, scheme: str, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if scheme == "https":
            context = self._ssl = self._ssl or ssl.create_default_context()
        _, protocol = await loop.create_connection(
            _Connection, host, port, ssl=context, server_hostname=host if context else None
        )
        return protocol

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        try:
            return await self._post(url, body, headers, reuse=True)
        except _StaleConnection:
            # a kept-alive connection the server had closed meanwhile: once more on a fresh one
            return await self._post(url, body, headers, reuse=False)

    async def _post(self, url: str, body: bytes, headers: dict[str, str], reuse: bool) -> Response:
        key, head = _target(url)
        scheme, host, port = key
        idle = self._idle.setdefault(key, [])
        connection = None
        while reuse and idle:
            candidate = idle.pop()
            if not candidate.closed:
                connection = candidate
                break
        reused = connection is not None
        try:
            if connection is None:
                connection = await asyncio.wait_for(self._connect(scheme, host, port), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise PostError(f"cannot connect to {host}:{port}: {exc}") from exc
        request = [head, f"Content-Length: {len(body)}\r\n"]
        request.extend(f"{name}: {value}\r\n" for name, value in headers.items())
        request.append("\r\n")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Response] = loop.create_future()
        connection.waiter = waiter
        if connection.transport is None:  # connection_made always runs first; a closed one has none
            raise PostError(f"no transport to {host}:{port}")
        connection.transport.write("".join(request).encode("latin-1") + body)
        # a timer, not asyncio.wait_for: no extra task per request on the hot path
        timer = loop.call_later(self.timeout, _expire, connection, waiter, self.timeout)
        try:
            response = await waiter
        except PostTimeout:
            raise
        except PostError:
            if reused and not connection.buffer:
                raise _StaleConnection from None
            raise
        except BaseException:  # cancelled mid-call: the connection's answer would reach the next caller
            connection.close()
            raise
        finally:
            timer.cancel()
            connection.waiter = None
        if connection.keep_alive and not connection.closed:
            idle.append(connection)
        else:
            connection.close()
        return response

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
