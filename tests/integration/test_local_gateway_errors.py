"""The local HTTP API's own answers (issue 17): a path no resource covers and a function that fails are
answered in the error envelope (docs/architecture.md), as every error of the API is, never in API Gateway's bare
``{"message": ...}``. The gateway is served over a real socket; its functions run in real local Lambda
environments (a handler that raises, one that overruns its timeout)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web

from kstock_local.cloud.gateway.http_api import HttpApi, Route
from kstock_local.cloud.lambdas.pool import LocalFunction
from kstock_local.cloud.template import ApiEvent, FunctionSpec
from kstock_local.embedded import free_port

HANDLERS = """
import time


def crash(event, context):
    raise RuntimeError("the handler failed")


def hang(event, context):
    time.sleep(60)


def echo(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"status": 200}'}
"""


def _function(code_dir: Path, name: str, timeout: float = 30) -> LocalFunction:
    spec = FunctionSpec(
        logical_id=f"{name.title()}Function",
        name=f"local-{name}",
        handler=f"handlers.{name}",
        code_uri=str(code_dir),
        environment={},
        timeout=timeout,
        memory=128,
    )
    return LocalFunction(spec, code_dir, {}, concurrency=1)


class ServedGateway:
    """An :class:`HttpApi` on a free port, served by an event loop in a daemon thread."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.api.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> str:
        self._thread.start()
        self._run(self._start())
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            self._run(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    code_dir = tmp_path_factory.mktemp("gateway-functions")
    (code_dir / "handlers.py").write_text(HANDLERS)
    functions = [_function(code_dir, "crash"), _function(code_dir, "hang", timeout=1), _function(code_dir, "echo")]
    routes = [
        Route.of(ApiEvent("Crash", "/crash", "GET"), functions[0]),
        Route.of(ApiEvent("Hang", "/hang", "GET"), functions[1]),
        Route.of(ApiEvent("Echo", "/things/{thingId}", "ANY"), functions[2]),
    ]
    try:
        with ServedGateway(HttpApi(routes)) as url:
            yield url
    finally:
        for function in functions:
            function.close()


def assert_envelope(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert set(body) == {"status", "code", "message"} and (body["status"], body["code"]) == (status, code), body
    assert body["message"]
    return body


def test_a_path_no_resource_covers_is_not_found_in_the_envelope(gateway: str) -> None:
    body = assert_envelope(requests.get(f"{gateway}/nowhere/at/all", timeout=10), 404, "NOT_FOUND")
    assert "/nowhere/at/all" in body["message"]
    assert_envelope(requests.get(f"{gateway}/", timeout=10), 404, "NOT_FOUND")


def test_a_method_the_resource_lacks_is_405_in_the_envelope_with_allow(gateway: str) -> None:
    answer = requests.delete(f"{gateway}/crash", timeout=10)
    assert_envelope(answer, 405, "INVALID_REQUEST")
    assert answer.headers["Allow"] == "GET"


def test_a_failing_function_is_502_in_the_envelope(gateway: str) -> None:
    body = assert_envelope(requests.get(f"{gateway}/crash", timeout=30), 502, "INTERNAL_ERROR")
    assert "the handler failed" not in body["message"]  # the cause stays in the function's log


def test_a_function_past_its_timeout_is_502_in_the_envelope(gateway: str) -> None:
    assert_envelope(requests.get(f"{gateway}/hang", timeout=30), 502, "INTERNAL_ERROR")


def test_a_covered_path_still_reaches_its_function(gateway: str) -> None:
    answer = requests.post(f"{gateway}/things/7", timeout=30)
    assert (answer.status_code, answer.json()) == (200, {"status": 200})
