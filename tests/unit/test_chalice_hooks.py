"""The Chalice public hooks kstock's error envelope stands on (issue 12: no private Chalice method).

``chalicelib.web`` relies on three public behaviours of Chalice, each checked here on a real
``KstockChalice`` answering real proxy events (built by the local gateway's own builder):

- ``Chalice.__call__`` may be overridden and delegated to with ``super()``;
- Chalice reads ``RouteEntry.view_function`` when a request arrives, so the wrapper
  ``chalicelib.web.enveloped_view`` put there sees every exception a view raises;
- an ``http`` middleware (``register_middleware``) sees the refusals Chalice answers itself.

If one of these fails after a Chalice upgrade, the message names the installed version: re-check
``functions/chalicelib/web.py`` against that release's ``chalice/app.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import pytest
from chalice import Blueprint, NotFoundError
from support.paths import PROJECT_ROOT

from kstock.errors import Unauthorized
from kstock_local.cloud.gateway.http_api import build_proxy_event
from kstock_local.cloud.lambdas.runtime import LambdaContext

if TYPE_CHECKING:
    from chalicelib.web import KstockChalice

RECHECK = f"chalice {version('chalice')}: re-check functions/chalicelib/web.py against this release's chalice/app.py"

Call = Callable[..., tuple[int, dict[str, Any], dict[str, str]]]


@pytest.fixture
def probe() -> tuple[KstockChalice, Call]:
    if str(PROJECT_ROOT / "functions") not in sys.path:  # where Lambda finds chalicelib
        sys.path.insert(0, str(PROJECT_ROOT / "functions"))
    from chalicelib.openapi import operation
    from chalicelib.web import KstockChalice, ok

    app = KstockChalice("hooks-probe")

    @app.route("/fine", methods=["GET"])
    @operation("A route that answers", rate_limited=False)
    def fine() -> Any:
        """Answers."""
        return ok({"fine": True}, "fine")

    @app.route("/refused", methods=["GET"])
    def refused() -> Any:
        raise Unauthorized("no token")

    @app.route("/chalice-error", methods=["GET"])
    def chalice_error() -> Any:
        raise NotFoundError("no such thing")

    @app.route("/boom", methods=["GET"])
    def boom() -> Any:
        raise RuntimeError("secret internal detail")

    @app.route("/json-only", methods=["POST"], content_types=["application/json"])
    def json_only() -> Any:
        return ok(None, "posted")

    def call(
        method: str, path: str, content_type: str = "application/json"
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        event = build_proxy_event(method, path, [], [("Content-Type", content_type)], b"{}", "127.0.0.1", "probe")
        result = app(event, LambdaContext())
        return result["statusCode"], json.loads(result["body"] or "null"), result["headers"]

    return app, call


def test_a_view_answer_passes_through_the_overridden_call(probe: tuple[KstockChalice, Call]) -> None:
    _, call = probe
    status, body, headers = call("GET", "/fine")
    assert (status, body) == (200, {"status": 200, "message": "fine", "data": {"fine": True}}), RECHECK
    assert headers["Content-Type"].startswith("application/json")


def test_what_a_view_raises_reaches_the_envelope_wrapper(probe: tuple[KstockChalice, Call]) -> None:
    _, call = probe
    assert call("GET", "/refused")[:2] == (401, {"status": 401, "code": "UNAUTHORIZED", "message": "no token"}), (
        f"an ApiError raised by a view did not reach chalicelib.web.enveloped_view ({RECHECK})"
    )
    status, body, _ = call("GET", "/chalice-error")
    assert (status, body["code"], body["message"]) == (404, "NOT_FOUND", "no such thing"), RECHECK


def test_an_unexpected_error_is_a_500_envelope_without_its_detail(probe: tuple[KstockChalice, Call]) -> None:
    _, call = probe
    status, body, _ = call("GET", "/boom")
    assert (status, body) == (
        500,
        {"status": 500, "code": "INTERNAL_ERROR", "message": "an internal error occurred"},
    ), RECHECK


def test_chalice_own_refusals_reach_the_http_middleware(probe: tuple[KstockChalice, Call]) -> None:
    _, call = probe
    status, body, _ = call("POST", "/json-only", content_type="text/plain")
    assert status == 400 and body["code"] == "INVALID_REQUEST", (
        f"Chalice's unsupported-media-type answer left without kstock's envelope ({RECHECK}): {body}"
    )
    assert "text/plain" in body["message"]


def test_routes_of_a_blueprint_registered_later_are_enveloped_too(probe: tuple[KstockChalice, Call]) -> None:
    app, call = probe
    assert call("GET", "/fine")[0] == 200  # the app has answered once before the blueprint arrives
    late = Blueprint(__name__)

    @late.route("/late", methods=["GET"])
    def late_view() -> Any:
        raise Unauthorized("late")

    app.register_blueprint(late)
    assert call("GET", "/late")[:2] == (401, {"status": 401, "code": "UNAUTHORIZED", "message": "late"})


def test_the_wrapped_view_keeps_its_name_docstring_and_operation(probe: tuple[KstockChalice, Call]) -> None:
    from chalicelib.openapi import operation_of

    app, call = probe
    call("GET", "/fine")  # views are wrapped on the first request
    view = app.routes["/fine"]["GET"].view_function
    assert (view.__name__, view.__doc__) == ("fine", "Answers.")
    operation_info = operation_of(view)
    assert operation_info is not None and operation_info.summary == "A route that answers"
    assert operation_info.rate_limited is False
