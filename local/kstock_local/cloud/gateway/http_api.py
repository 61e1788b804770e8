"""The local HTTP API: the template's Api events served on 127.0.0.1:3000.

Each request becomes a real API Gateway (REST, payload 1.0) proxy event for the resource it
matches and goes to that function's local containers (:mod:`kstock_local.cloud.lambdas.pool`).
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kstock.config import get_settings
from kstock.errors import ApiError, InternalError, MethodNotAllowed, NotFound
from kstock_local.cloud.gateway import stream_proxy
from kstock_local.cloud.lambdas.pool import FunctionError, LocalFunction
from kstock_local.cloud.template import ApiEvent

STAGE = "Prod"


def _text_or_base64(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def single_and_multi(items: Iterable[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    multi: dict[str, list[str]] = {}
    for key, value in items:
        multi.setdefault(key, []).append(value)
    if not multi:
        return None, None
    return {k: v[-1] for k, v in multi.items()}, multi


def build_proxy_event(
    method: str,
    path: str,
    query_items: Iterable[tuple[str, str]],
    header_items: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
    resource: str = "/{proxy+}",
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (payload 1.0) proxy event, as the function of ``resource`` receives it."""
    headers, multi_headers = single_and_multi(header_items)
    query, multi_query = single_and_multi(query_items)
    text, is_base64 = _text_or_base64(body)
    if path_parameters is None and resource == "/{proxy+}":
        path_parameters = {"proxy": path.lstrip("/")} if path != "/" else None
    now = time.time()
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "domainName": host,
            "identity": {"sourceIp": source_ip, "userAgent": (headers or {}).get("User-Agent")},
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def response_from_proxy_result(result: dict[str, Any]) -> web.Response:
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    response = web.Response(status=int(result.get("statusCode", 200)), body=raw)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name in (result.get("headers") or {}):
            continue
        for value in values:
            response.headers.add(name, str(value))
    return response


class BadGateway(InternalError):
    """The function behind the route failed (API Gateway's 502), in the contract's envelope."""

    status = 502


def error_answer(error: ApiError) -> web.Response:
    """An error of the gateway itself, in the REST error envelope (docs/architecture.md 3.5) like every error."""
    return web.json_response(error.envelope(), status=error.status, headers=error.headers)


@dataclass(frozen=True)
class Route:
    """One Api event of the template: ``/companies/{id}`` or the greedy ``/{proxy+}``."""

    method: str
    resource: str
    function: LocalFunction
    regex: re.Pattern[str]
    params: tuple[str, ...]

    @classmethod
    def of(cls, event: ApiEvent, function: LocalFunction) -> Route:
        params: list[str] = []
        parts = []
        for segment in event.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                params.append(name.rstrip("+"))
                parts.append("(.+)" if name.endswith("+") else "([^/]+)")
            else:
                parts.append(re.escape(segment))
        regex = "/" + "/".join(parts) if parts != [""] else "/"
        return cls(event.method, event.path, function, re.compile(f"^{regex}/?$"), tuple(params))

    @property
    def specificity(self) -> tuple[int, int]:
        # literal routes first, greedy proxies last
        return ("+}" in self.resource, len(self.params))


class HttpApi:
    """An aiohttp app serving the template's Api events through their functions."""

    def __init__(self, routes: list[Route], stream_upstream: str | None = None) -> None:
        self.routes = sorted(routes, key=lambda r: r.specificity)
        # /stream/* (SSE) is the streamer's, not a function's: API Gateway REST cannot stream (stream_proxy)
        self.stream_upstream = stream_upstream or f"http://127.0.0.1:{get_settings().streamer_health_port}"

    def app(self) -> web.Application:
        application = web.Application(
            client_max_size=10 * 1024 * 1024,
            # API Gateway passes a body as sent, compressed or not
            handler_args={"auto_decompress": False},
        )
        application.router.add_route("*", "/{tail:.*}", self._handle)
        return application

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.regex.match(path)
            if found and route.method in ("ANY", method):
                return route, dict(zip(route.params, found.groups(), strict=True))
        return None

    def allowed_methods(self, path: str) -> list[str]:
        """The methods of the resources whose path matches (none: no resource covers the path)."""
        return sorted({route.method for route in self.routes if route.regex.match(path)})

    def _refusal(self, method: str, path: str) -> web.Response:
        """No route for the request. API Gateway answers 403 ``Missing Authentication Token`` here;
        kstock's contract answers every error in its envelope: 404 for a path no resource covers,
        405 with ``Allow`` for a method its resources lack."""
        allowed = self.allowed_methods(path)
        if not allowed:
            return error_answer(NotFound(f"no route for {path}"))
        refused = MethodNotAllowed(f"{method} is not allowed on {path}", headers={"Allow": ", ".join(allowed)})
        return error_answer(refused)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if stream_proxy.handles(request.path):
            try:
                return await stream_proxy.forward(request, self.stream_upstream)
            except ApiError as refused:
                return error_answer(refused)
        matched = self.match(request.method, request.path)
        if matched is None:
            return self._refusal(request.method, request.path)
        route, params = matched
        event = build_proxy_event(
            request.method,
            request.path,
            request.query.items(),
            request.headers.items(),
            await request.read(),
            request.remote or "127.0.0.1",
            request.host,
            route.resource,
            params,
        )
        try:
            result = await route.function.invoke(event)
        except FunctionError:  # the function raised, timed out or died: API Gateway answers 502
            return error_answer(BadGateway("the function failed; its log has the cause"))
        return response_from_proxy_result(result)
