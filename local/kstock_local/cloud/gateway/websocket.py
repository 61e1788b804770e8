"""The local API Gateway WebSocket API, with its ``@connections`` management API beside it.

One aiohttp server (127.0.0.1:3001 by default) speaks WebSocket to clients and plain HTTP to the
functions that answer them:

* ``ws://127.0.0.1:3001/{stage}?token=...`` — ``$connect`` runs first and a non-2xx answer
  refuses the handshake; each message is routed by the template's RouteSelectionExpression
  (``$request.body.action``) to its route or ``$default``; ``$disconnect`` runs on close.
  Events carry the fields API Gateway sends (requestContext.connectionId, routeKey, eventType,
  domainName, stage, connectedAt, identity.sourceIp, ...).
* ``POST|GET|DELETE /{stage}/@connections/{id}`` — deliver, describe, close; an unknown or
  closed id answers 410 ``GoneException`` as AWS does, so boto3's ``apigatewaymanagementapi``
  client pointed here behaves as in the cloud.

API Gateway's limits are enforced: a message over the frame limit (32 KB) closes the socket with
1009, as does one over the message limit (128 KB; aiohttp reassembles fragments before we see
them, so a fragmented message between the two limits is judged by its total size); idle sockets
close after 10 minutes and every socket after 2 hours (both configurable for tests).

``GET /live`` serves a small page (``local/kstock_local/static/live.html``) that signs up or logs in,
subscribes to a few symbols and shows their prices ticking; its ``POST /live/login`` and
``/live/signup`` are forwarded to the HTTP API's ``POST /users/login`` and ``/users/signup``, and
``GET /live/themes`` to ``GET /themes`` (the heat map) and ``GET /live/health`` to ``GET /health`` (is the
market simulated?), so the page needs no cross-origin request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from kstock.logs import get_logger
from kstock_local.cloud.gateway.http_api import single_and_multi
from kstock_local.cloud.lambdas.pool import FunctionError, LocalFunction
from kstock_local.cloud.template import WebSocketApiSpec

log = get_logger("kstock_local.cloud.gateway.websocket")

FRAME_LIMIT = 32 * 1024
LIVE_PAGE = Path(__file__).resolve().parents[2] / "static" / "live.html"
MESSAGE_LIMIT = 128 * 1024


@dataclass
class Limits:
    frame_bytes: int = FRAME_LIMIT
    message_bytes: int = MESSAGE_LIMIT
    idle_timeout: float = 600.0
    max_duration: float = 7200.0


@dataclass
class Connection:
    id: str
    ws: web.WebSocketResponse
    source_ip: str
    user_agent: str | None
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)

    def info(self) -> dict[str, Any]:
        def iso(ts: float) -> str:
            return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        # the wire names of GetConnection's answer (botocore maps them to ConnectedAt, Identity, ...)
        return {
            "connectedAt": iso(self.connected_at),
            "lastActiveAt": iso(self.last_active),
            "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
        }


@dataclass
class _Closing:
    """Why a socket ends: the close code and reason $disconnect reports (1000 unless something else happened)."""

    code: int = 1000
    reason: str = "client closed"


def _connection_id() -> str:
    # API Gateway ids look like "L0SM9cOFvHcCIhw=": 12 base64 characters.
    return base64.b64encode(secrets.token_bytes(8)).decode()[:11] + "="


def select_route(expression: str, body: str, routes: dict[str, Any]) -> str | None:
    """Evaluate ``$request.body.<path>`` against a message; fall back to ``$default``."""
    key = None
    prefix = "$request.body."
    if expression.startswith(prefix):
        try:
            value: Any = json.loads(body)
            for part in expression[len(prefix) :].split("."):
                value = value.get(part) if isinstance(value, dict) else None  # `{}` has no action: $default
            key = value if isinstance(value, str) else None
        except (ValueError, TypeError, RecursionError):  # bad JSON, 5000-digit numbers, absurd nesting
            key = None
    # "$connect" / "$disconnect" are the lifecycle's, never a message's: {"action":"$disconnect"}
    # must not run the disconnect handler for a live socket (issue 17)
    if key is not None and not key.startswith("$") and key in routes:
        return key
    return "$default" if "$default" in routes else None


def error_message(code: str, message: str, **extra: Any) -> str:
    """A gateway error as the contract's WebSocket error message (``type``/``code``/``message``)."""
    status = 500 if code == "INTERNAL_ERROR" else 400
    return json.dumps({"type": "error", "status": status, "code": code, "message": message, **extra})


class WebSocketGateway:
    def __init__(
        self,
        api: WebSocketApiSpec,
        functions: dict[str, LocalFunction],
        *,
        domain_name: str,
        limits: Limits | None = None,
        http_api_url: str | None = None,
    ) -> None:
        self.api = api
        self.http_api_url = http_api_url  # where the live page's login goes (the local HTTP API)
        self.routes = functions  # route key -> function
        self.domain_name = domain_name  # host:port clients and handlers use
        self.stage = api.stage
        self.limits = limits or Limits()
        self.connections: dict[str, Connection] = {}
        self.stats = {"connects": 0, "refused": 0, "messages_in": 0, "posts": 0, "gone": 0, "oversize": 0}

    # -- application -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        application = web.Application(client_max_size=self.limits.message_bytes + 1024)
        for prefix in ("", f"/{self.stage}"):
            application.router.add_route("POST", prefix + "/@connections/{id}", self._post)
            application.router.add_route("GET", prefix + "/@connections/{id}", self._get)
            application.router.add_route("DELETE", prefix + "/@connections/{id}", self._delete)
        application.router.add_get("/", self._websocket)
        application.router.add_get(f"/{self.stage}", self._websocket)
        application.router.add_get(f"/{self.stage}/", self._websocket)
        application.router.add_get("/live", self._live_page)
        application.router.add_post("/live/{action:login|signup}", self._live_account)
        application.router.add_get("/live/themes", self._live_themes)
        application.router.add_get("/live/health", self._live_health)
        return application

    # -- the live page -------------------------------------------------------------------------------

    async def _live_page(self, _request: web.Request) -> web.Response:
        html = LIVE_PAGE.read_text(encoding="utf-8").replace("__STAGE__", self.stage)
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _live_account(self, request: web.Request) -> web.Response:
        return await self._forward("POST", f"/users/{request.match_info['action']}", await request.read())

    async def _live_themes(self, _request: web.Request) -> web.Response:
        """The heat map's first paint (later it follows theme_update messages)."""
        return await self._forward("GET", "/themes", None)

    async def _live_health(self, _request: web.Request) -> web.Response:
        """Whether the prices are simulated (``streamer.kisSource``): the page labels them."""
        return await self._forward("GET", "/health", None)

    async def _forward(self, method: str, path: str, body: bytes | None) -> web.Response:
        """The page's same-origin door to the HTTP API (no cross-origin request)."""
        if not self.http_api_url:
            return web.json_response(
                {"status": 503, "code": "STREAM_UNAVAILABLE", "message": "no HTTP API behind this gateway"}, status=503
            )
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.http_api_url}{path}", data=body, headers={"Content-Type": "application/json"}
            ) as answer,
        ):
            return web.Response(body=await answer.read(), status=answer.status, content_type="application/json")

    # -- events --------------------------------------------------------------------------------------

    def _event(
        self,
        connection_id: str,
        route_key: str,
        event_type: str,
        request: web.Request | None,
        connection: Connection | None,
        **extra: Any,
    ) -> dict[str, Any]:
        now = time.time()
        connected_at = connection.connected_at if connection else now
        context = {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "stage": self.stage,
            "connectedAt": int(connected_at * 1000),
            "identity": {
                "sourceIp": connection.source_ip if connection else (request.remote if request else None),
                "userAgent": connection.user_agent
                if connection
                else (request.headers.get("User-Agent") if request else None),
            },
            "requestId": str(uuid.uuid4()),
            "domainName": self.domain_name,
            "connectionId": connection_id,
            "apiId": self.api.name,
        }
        context.update(extra.pop("context", {}))
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False, **extra}
        if request is not None and event_type == "CONNECT":
            event["headers"], event["multiValueHeaders"] = single_and_multi(request.headers.items())
            query, multi_query = single_and_multi(request.query.items())
            if query:
                event["queryStringParameters"], event["multiValueQueryStringParameters"] = query, multi_query
        return event

    async def _run_route(self, route_key: str, event: dict[str, Any]) -> dict[str, Any] | None:
        function = self.routes.get(route_key)
        if function is None:
            return None
        result = await function.invoke(event)
        return result if isinstance(result, dict) else None

    # -- WebSocket -------------------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        connection_id = _connection_id()
        refusal = await self._connect(connection_id, request)
        if refusal is not None:
            return refusal
        ws = web.WebSocketResponse(max_msg_size=self.limits.message_bytes, autoping=True)
        await ws.prepare(request)
        connection = Connection(connection_id, ws, request.remote or "127.0.0.1", request.headers.get("User-Agent"))
        self.connections[connection_id] = connection
        self.stats["connects"] += 1
        watchdog = asyncio.create_task(self._watch(connection))
        closing = _Closing()
        try:
            await self._receive(connection, ws, closing)
        finally:
            watchdog.cancel()
            self.connections.pop(connection_id, None)
            if ws.close_code is not None and closing.code == 1000:
                closing.code = ws.close_code
            await self._disconnect(connection, closing)
        return ws

    async def _connect(self, connection_id: str, request: web.Request) -> web.StreamResponse | None:
        """Run $connect (when routed): None lets the upgrade proceed, else the HTTP answer refusing it."""
        if "$connect" not in self.routes:
            return None
        event = self._event(connection_id, "$connect", "CONNECT", request, None)
        try:
            result = await self._run_route("$connect", event) or {}
        except FunctionError:
            self.stats["refused"] += 1
            return web.json_response(
                {"status": 500, "code": "INTERNAL_ERROR", "message": "Internal server error"}, status=500
            )
        status = int(result.get("statusCode", 200))
        if 200 <= status < 300:
            return None
        self.stats["refused"] += 1
        return web.Response(status=status if status >= 400 else 403, text=result.get("body") or "Forbidden")

    async def _receive(self, connection: Connection, ws: web.WebSocketResponse, closing: _Closing) -> None:
        """Route the client's messages until it leaves; ``closing`` records why the socket ends."""
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    if message.type == WSMsgType.ERROR:
                        closing.code, closing.reason = 1009, "message too big"
                        self.stats["oversize"] += 1
                    continue
                connection.last_active = time.time()
                data = message.data if message.type == WSMsgType.TEXT else message.data.decode("utf-8", "replace")
                if len(data.encode()) > self.limits.frame_bytes:
                    self.stats["oversize"] += 1
                    closing.code, closing.reason = 1009, "frame exceeds 32 KB"
                    await ws.close(code=1009, message=b"Message too big")
                    break
                await self._on_message(connection, data)
        except Exception:  # never drop a socket without a close frame (issue 17)
            log.exception("WebSocket connection failed", extra={"connection_id": connection.id})
            closing.code, closing.reason = 1011, "internal error"
            if not ws.closed:
                await ws.close(code=1011, message=b"Internal error")

    async def _disconnect(self, connection: Connection, closing: _Closing) -> None:
        if "$disconnect" not in self.routes:
            return
        event = self._event(
            connection.id,
            "$disconnect",
            "DISCONNECT",
            None,
            connection,
            context={"disconnectStatusCode": closing.code, "disconnectReason": closing.reason},
        )
        try:
            await self._run_route("$disconnect", event)
        except FunctionError:
            pass  # like API Gateway: a failing $disconnect changes nothing for anyone

    async def _on_message(self, connection: Connection, data: str) -> None:
        self.stats["messages_in"] += 1
        route_key = select_route(self.api.route_selection_expression, data, self.routes)
        if route_key is None:
            await connection.ws.send_str(error_message("INVALID_REQUEST", "Forbidden", connectionId=connection.id))
            return
        event = self._event(
            connection.id,
            route_key,
            "MESSAGE",
            None,
            connection,
            body=data,
            context={"messageId": secrets.token_urlsafe(12)},
        )
        try:
            await self._run_route(route_key, event)
        except Exception:  # a failed route answers the client; the socket stays open (never a silent drop)
            if not connection.ws.closed:
                await connection.ws.send_str(
                    error_message(
                        "INTERNAL_ERROR",
                        "Internal server error",
                        connectionId=connection.id,
                        requestId=event["requestContext"]["requestId"],
                    )
                )

    async def _watch(self, connection: Connection) -> None:
        """Close idle sockets and sockets older than the connection limit."""
        while not connection.ws.closed:
            now = time.time()
            idle_deadline = connection.last_active + self.limits.idle_timeout
            age_deadline = connection.connected_at + self.limits.max_duration
            if now >= idle_deadline or now >= age_deadline:
                await connection.ws.close(code=1001, message=b"Going away")
                return
            await asyncio.sleep(min(idle_deadline, age_deadline) - now)

    # -- @connections -------------------------------------------------------------------------------

    def _gone_body(self, connection_id: str) -> tuple[int, dict[str, str]]:
        self.stats["gone"] += 1
        return 410, {"__type": "GoneException", "message": f"connection {connection_id} is gone"}

    def _gone(self, connection_id: str) -> web.Response:
        status, body = self._gone_body(connection_id)
        return web.json_response(body, status=status, headers={"x-amzn-ErrorType": body["__type"]})

    def _live(self, request: web.Request) -> Connection | None:
        connection = self.connections.get(request.match_info["id"])
        return connection if connection and not connection.ws.closed else None

    async def deliver(self, connection_id: str, data: bytes) -> tuple[int, dict[str, str] | None]:
        """``POST @connections/{id}``: send ``data`` to the client. Returns the status and, for an
        error, its JSON body (the ``x-amzn-ErrorType`` header repeats its ``__type``)."""
        connection = self.connections.get(connection_id)
        if connection is None or connection.ws.closed:
            return self._gone_body(connection_id)
        if len(data) > self.limits.message_bytes:
            return 413, {"__type": "PayloadTooLargeException", "message": "payload too large"}
        try:
            await connection.ws.send_str(data.decode("utf-8"))
        except UnicodeDecodeError:
            await connection.ws.send_bytes(data)
        except ConnectionError:
            return self._gone_body(connection_id)
        self.stats["posts"] += 1
        return 200, None

    async def _post(self, request: web.Request) -> web.Response:
        status, error = await self.deliver(request.match_info["id"], await request.read())
        if error is None:
            return web.Response(status=status)
        return web.json_response(error, status=status, headers={"x-amzn-ErrorType": error["__type"]})

    async def _get(self, request: web.Request) -> web.Response:
        connection = self._live(request)
        if connection is None:
            return self._gone(request.match_info["id"])
        return web.json_response(connection.info())

    async def _delete(self, request: web.Request) -> web.Response:
        connection = self._live(request)
        if connection is None:
            return self._gone(request.match_info["id"])
        await connection.ws.close(code=1000, message=b"closed by @connections DELETE")
        return web.Response(status=204)
