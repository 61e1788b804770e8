"""The local HTTP API: API Gateway REST proxy events served on 127.0.0.1:3000.

Each request becomes a real API Gateway (REST, payload 1.0) proxy event and goes to the handler
in one of a few worker processes, like Lambda containers: a handler serves one event at a time,
and module state (pools, clients) lives as long as the worker.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from aiohttp import web

from infra.lambda_runtime import invoke, load_handler

STAGE = "Prod"


def _text_or_base64(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _single_and_multi(items) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    multi: dict[str, list[str]] = {}
    for key, value in items:
        multi.setdefault(key, []).append(value)
    if not multi:
        return None, None
    return {k: v[-1] for k, v in multi.items()}, multi


def build_proxy_event(method: str, path: str, query_items, header_items, body: bytes,
                      source_ip: str, host: str) -> dict[str, Any]:
    """An API Gateway REST proxy event as the ``/{proxy+}`` resource receives it."""
    headers, multi_headers = _single_and_multi(header_items)
    query, multi_query = _single_and_multi(query_items)
    text, is_base64 = _text_or_base64(body)
    now = time.time()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "accountId": "000000000000",
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


def _worker_init(handler: str) -> None:
    # Ctrl-C reaches the whole process group; only the supervisor decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    load_handler(handler)


class HttpApi:
    """An aiohttp app that forwards every request to one Lambda handler."""

    def __init__(self, handler: str = "app.app", workers: int = 2, function_name: str = "ApiFunction") -> None:
        self.handler = handler
        self.function_name = function_name
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                         initializer=_worker_init, initargs=(handler,))

    def app(self) -> web.Application:
        application = web.Application(client_max_size=10 * 1024 * 1024)
        application.router.add_route("*", "/{tail:.*}", self._handle)
        return application

    async def _handle(self, request: web.Request) -> web.Response:
        event = build_proxy_event(
            request.method, request.path, request.query.items(), request.headers.items(),
            await request.read(), request.remote or "127.0.0.1", request.host,
        )
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._pool, invoke, self.handler, event, self.function_name)
        except Exception as exc:  # the "Lambda" itself crashed: API Gateway answers 502
            return web.json_response({"message": "Internal server error", "error": type(exc).__name__}, status=502)
        return response_from_proxy_result(result)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
