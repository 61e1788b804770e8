"""Server-Sent Events: live prices as one long HTTP answer, ``GET /stream/stocks``, on the streamer's HTTP
port beside /health.

Why the streamer serves it: API Gateway REST (and Lambda behind it) sends an answer only once it is
complete, so it cannot stream; the streamer is long-lived and already reads Redis. In AWS it sits behind an
ALB (template.yaml, "SSE"); on a laptop the local HTTP API forwards ``/stream/*`` to it.

The request::

    GET /stream/stocks?symbols=005930,000660&channels=trade,orderbook
    Authorization: Bearer <JWT>        (or ?token=<JWT>: a browser's EventSource cannot set headers)
    Last-Event-ID: 1736555400123-7     (sent by EventSource when it reconnects)

The answer is ``200 text/event-stream``: a ``retry:`` hint, then one event per message of the symbols'
pub/sub channels (``event: tick`` with the contract's tick JSON; ``event: orderbook``), each with an
``id:``, and a ``: ping`` comment every ``SSE_HEARTBEAT_SECONDS`` (idle proxies and the ALB would close a
silent connection). Refusals come before the stream starts, in the REST error envelope: 401 (no, bad,
expired or revoked token), 400 (missing, malformed or unlisted symbols, unknown channels, too many
symbols), 429 (the user's connection or symbol limit), 503 (Redis unreachable).

An SSE stream is one of its user's connections. It is registered in the connection registry like a
WebSocket (without an endpoint, so the fan-out never posts to it) and subscribed through
:mod:`kstock.realtime.session`, so:

* ``WS_MAX_CONNECTIONS_PER_USER``, ``WS_MAX_SYMBOLS`` and ``WS_MAX_SYMBOLS_PER_USER`` count WebSockets
  and SSE streams together;
* the demand it announces makes the streamer stream its symbols, and is rebuilt and reconciled from the
  registry like a WebSocket's; the stream's end releases it.

Event ids are ``{server ms}-{n}`` (n counts this stream's events): unique, not a replay position. A
reconnect with ``Last-Event-ID`` gets the latest message of each symbol and channel first (``price:{symbol}``
for ticks, ``orderbook:{symbol}`` for books), then the live stream. Books are passed on as published, not
paced like the WebSocket's (an SSE event is a write on an open socket, not an @connections call).

Each heartbeat checks the token again: once it is revoked (a logout) or expired the stream ends with
``event: error``. A stream lasts at most ``SSE_MAX_SECONDS``; EventSource then reconnects by itself.

Each stream holds its own Redis pub/sub connection: simple, and bounded by the per-user connection limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from kstock import keys
from kstock.auth import revocations, tokens
from kstock.config import get_settings
from kstock.errors import (
    ApiError,
    InternalError,
    InvalidRequest,
    MissingField,
    StreamUnavailable,
    TooManyRequests,
    Unauthorized,
)
from kstock.market.codes import InvalidCode, classify
from kstock.realtime import channels, session

log = logging.getLogger("kstock_streamer.sse")

PATH = "/stream/stocks"
RETRY_MS = 3000  # EventSource waits this long before it reconnects
POLL_SECONDS = 1.0  # longest wait for a message before the stream looks at the clock, the client and shutdown
CONNECTION_PREFIX = "sse-"  # registry ids of SSE streams (WebSocket ids are API Gateway's)


@dataclass(frozen=True)
class Channel:
    """What a client may ask for with ``channels=``: its SSE event, pub/sub channel and latest-value key."""

    event: str
    pubsub: Callable[[str], str]
    latest: Callable[[str], str]


# the names are the WebSocket's (kstock.realtime.channels): the session validates them and counts the demand
CHANNELS: dict[str, Channel] = {
    channels.TRADE: Channel("tick", keys.realtime_channel, keys.latest_price),
    channels.ORDERBOOK: Channel("orderbook", keys.orderbook_channel, keys.latest_orderbook),
}
DEFAULT_CHANNELS = (channels.TRADE,)


@dataclass(frozen=True)
class StreamRequest:
    symbols: list[str]
    channels: list[str]
    token: str
    resume: bool  # Last-Event-ID was sent: a snapshot first


def _listed(raw: str | None) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in (raw or "").split(",") if part.strip()))


def _symbols(raw: str | None) -> list[str]:
    wanted = _listed(raw)
    if not wanted:
        raise MissingField("symbols is required, e.g. ?symbols=005930,000660")
    codes, invalid = [], []
    for code in wanted:
        try:
            codes.append(classify(code).code)
        except InvalidCode as exc:
            invalid.append(f"{code} ({exc.reason})")
    if invalid:
        raise InvalidRequest("invalid symbols: " + "; ".join(invalid))
    return list(dict.fromkeys(codes))


def _channels(raw: str | None) -> list[str]:
    wanted = _listed(raw) or list(DEFAULT_CHANNELS)
    unknown = [name for name in wanted if name not in CHANNELS]
    if unknown:
        raise InvalidRequest(f"unknown channels: {', '.join(unknown)}; known: {', '.join(CHANNELS)}")
    return wanted


def parse(request: web.Request) -> StreamRequest:
    """The stream a request asks for; :class:`ApiError` (401 first, then 400) when it cannot have one."""
    token = tokens.bearer(request.headers.get("Authorization")) or request.query.get("token") or None
    if token is None:
        raise Unauthorized("a token is required: an Authorization: Bearer header or ?token=")
    return StreamRequest(
        _symbols(request.query.get("symbols")),
        _channels(request.query.get("channels")),
        token,
        "Last-Event-ID" in request.headers,
    )


_REPLY_ERRORS: dict[str, type[ApiError]] = {
    session.ERROR_INVALID: InvalidRequest,
    session.ERROR_MISSING: MissingField,
    session.ERROR_UNAVAILABLE: StreamUnavailable,
}


def _refusal(reply: dict[str, Any]) -> ApiError:
    """The WebSocket session's error reply as the REST error it is before a stream starts."""
    code, message = str(reply.get("code")), str(reply.get("message"))
    if code == session.ERROR_LIMIT:
        return TooManyRequests(message, retry_after=session.CONNECTION_RETRY_AFTER)
    return _REPLY_ERRORS.get(code, InternalError)(message)


def error_answer(error: ApiError) -> web.Response:
    return web.json_response(error.envelope(), status=error.status, headers=error.headers)


# -- the wire ----------------------------------------------------------------------------------------


@dataclass
class EventWriter:
    """Writes SSE fields to one answer; numbers the events."""

    response: web.StreamResponse
    sent: int = 0

    def next_id(self) -> str:
        self.sent += 1
        return f"{int(time.time() * 1000)}-{self.sent}"

    async def event(self, name: str, data: str) -> None:
        # a data line ends at a newline: a payload with newlines (never the compact JSON we publish) splits
        lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
        await self.response.write(f"id: {self.next_id()}\nevent: {name}\n{lines}\n".encode())

    async def comment(self, text: str) -> None:
        await self.response.write(f": {text}\n\n".encode())

    async def retry(self, milliseconds: int) -> None:
        await self.response.write(f"retry: {milliseconds}\n\n".encode())


# -- one stream ----------------------------------------------------------------------------------------


@dataclass
class Stream:
    """One client's open stream: its registry connection, token and the channels it reads."""

    connection_id: str
    wanted: StreamRequest
    claims: tokens.Claims
    ends_at: float  # time.monotonic()
    events: dict[str, str] = field(default_factory=dict)  # pub/sub channel -> SSE event name

    def latest_keys(self) -> list[tuple[str, str]]:
        """(key of the latest message, event name) per symbol and channel, in the order asked."""
        return [
            (CHANNELS[name].latest(symbol), CHANNELS[name].event)
            for symbol in self.wanted.symbols
            for name in self.wanted.channels
        ]


def _token_valid(claims: tokens.Claims) -> bool:
    """Whether a stream's token still holds: unexpired and not revoked (Postgres is the record)."""
    if claims.expires_at <= time.time():
        return False
    return not revocations.is_revoked(claims.token_id, claims.expires_at)


@dataclass
class SseService:
    redis: aioredis.Redis
    heartbeat: float = 15.0
    max_seconds: float = 7200.0
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    open_streams: int = 0

    @classmethod
    def from_settings(cls, redis: aioredis.Redis) -> SseService:
        settings = get_settings()
        return cls(redis, heartbeat=settings.sse_heartbeat_seconds, max_seconds=settings.sse_max_seconds)

    async def shutdown(self, _app: web.Application) -> None:
        """aiohttp's on_shutdown: every stream ends (and releases its demand) before the server waits on it."""
        self.closing.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            wanted = parse(request)
            stream = await self._open(wanted)
        except ApiError as refused:
            return error_answer(refused)
        except Exception:  # a registry or database outage: the client's answer, never a traceback
            log.exception("SSE stream could not be opened")
            return error_answer(InternalError("the stream could not be opened; try again"))
        self.open_streams += 1
        try:
            return await self._serve(request, stream)
        finally:
            self.open_streams -= 1
            await self._close(stream.connection_id)

    async def _open(self, wanted: StreamRequest) -> Stream:
        """Register the stream as a connection of its user and subscribe it (announcing the demand)."""
        connection_id = f"{CONNECTION_PREFIX}{uuid.uuid4().hex}"
        # no endpoint: the fan-out posts only to connections with one
        await asyncio.to_thread(session.open_connection, connection_id, wanted.token, domain_name="", stage="")
        claims = tokens.decode(wanted.token)
        message = json.dumps({"action": "subscribe", "symbols": wanted.symbols, "channels": wanted.channels})
        (reply,) = await asyncio.to_thread(session.handle_message, connection_id, message)
        if reply.get("type") == "error":
            await self._close(connection_id)
            raise _refusal(reply)
        events = {
            CHANNELS[name].pubsub(symbol): CHANNELS[name].event for symbol in wanted.symbols for name in wanted.channels
        }
        return Stream(connection_id, wanted, claims, time.monotonic() + self.max_seconds, events)

    async def _close(self, connection_id: str) -> None:
        try:
            await asyncio.to_thread(session.close_connection, connection_id)
        except Exception:  # its registry rows expire on their own (TTL); the reconciler drops the demand
            log.exception("SSE stream %s not released", connection_id)

    async def _serve(self, request: web.Request, stream: Stream) -> web.StreamResponse:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(*stream.events)
        except (RedisError, OSError):
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # redis-py: unannotated
            return error_answer(StreamUnavailable("live prices are unavailable right now; try again shortly"))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # proxies that buffer answers (nginx) must pass events at once
            }
        )
        try:
            await response.prepare(request)
            writer = EventWriter(response)
            await writer.retry(RETRY_MS)
            if stream.wanted.resume:
                await self._snapshot(writer, stream)
            await self._pump(request, pubsub, writer, stream)
        except ConnectionResetError:  # the client went away
            return response
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # redis-py: unannotated
        await response.write_eof()
        return response

    async def _snapshot(self, writer: EventWriter, stream: Stream) -> None:
        """The latest message of each symbol and channel, read after subscribing: nothing falls between."""
        wanted = stream.latest_keys()
        values = await cast(Awaitable[list[str | None]], self.redis.mget([key for key, _ in wanted]))
        for (_, event), value in zip(wanted, values, strict=True):
            if value is not None:
                await writer.event(event, value)

    async def _pump(self, request: web.Request, pubsub: Any, writer: EventWriter, stream: Stream) -> None:
        next_ping = time.monotonic() + self.heartbeat
        while not self.closing.is_set() and not _gone(request):
            now = time.monotonic()
            if now >= stream.ends_at:
                return
            if now >= next_ping:
                if not await self._heartbeat(writer, stream):
                    return
                next_ping = now + self.heartbeat
            try:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=max(0.0, min(POLL_SECONDS, next_ping - now))
                )
            except (RedisError, OSError):
                await writer.event("error", _envelope(StreamUnavailable("live prices were interrupted; reconnect")))
                return
            if message is not None:
                await writer.event(stream.events.get(message["channel"], "message"), message["data"])

    async def _heartbeat(self, writer: EventWriter, stream: Stream) -> bool:
        """A ping, and whether the token still holds (a database blip keeps the stream: checked next time)."""
        await writer.comment("ping")
        try:
            valid = await asyncio.to_thread(_token_valid, stream.claims)
        except Exception as exc:
            log.warning("SSE token check failed (%s); the stream goes on", type(exc).__name__)
            return True
        if not valid:
            await writer.event("error", _envelope(Unauthorized("the token has expired or been revoked")))
        return valid


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _envelope(error: ApiError) -> str:
    return json.dumps(error.envelope(), separators=(",", ":"))


def add_routes(app: web.Application, redis: aioredis.Redis) -> SseService:
    """Serve ``GET /stream/stocks`` on ``app`` with the process's Redis client."""
    service = SseService.from_settings(redis)
    app.router.add_get(PATH, service.handle)
    app.on_shutdown.append(service.shutdown)
    return service
