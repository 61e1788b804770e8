"""HTTP plumbing shared by every REST handler: routing behind a proxy, the response envelope,
body parsing and error mapping.

API Gateway sends every request to the one ``ApiFunction`` through a ``/{proxy+}`` route, so the
event's ``resourcePath`` is the proxy, not a Chalice route; :class:`KstockChalice` matches the
real path against the app's routes first. Every failure leaves as the contract's error envelope:
services raise :class:`kstock.errors.ApiError`, anything unexpected is logged with its stack
and answered 500 without one.

Only Chalice's public hooks carry this (issue 12): ``Chalice.__call__``, an ``http`` middleware for
the refusals Chalice answers itself, and a wrapper around each route's ``view_function`` for what
the views raise. No private Chalice method is overridden or called.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import psycopg
from chalice.app import BadRequestError, Chalice, ChaliceViewError, NotFoundError, Request, Response
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from redis import exceptions as redis_errors

from kstock import ratelimit
from kstock.auth import tokens
from kstock.config import MissingSetting, get_settings
from kstock.errors import (
    ApiError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    StreamUnavailable,
    Unauthorized,
)
from kstock.kis import deadline as kis_deadline
from kstock.kis.errors import KisUnavailable
from kstock.logs import get_logger
from kstock.validation import storable_text, validate

log = get_logger("kstock.api")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


# datetimes and Decimals reach the wire as str() gives them, as they always have; orjson because
# encoding the answer was a tenth of a typical request's time with the standard library
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _encode(body: dict[str, Any]) -> str:
    try:
        return orjson.dumps(body, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:  # integers past 64 bits: the standard library takes any size
        return json.dumps(body, ensure_ascii=False, default=str)


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=_encode(body),
        status_code=status,
        headers={"Content-Type": JSON_CONTENT_TYPE, **(headers or {})},
    )


def ok(data: Any, message: str, status: int = 200, **top_level: Any) -> Response:
    """The success envelope ``{"status", "message", "data"}`` (plus top-level keys the PRD wants)."""
    body = {"status": status, "message": message, **top_level}
    if data is not None:
        body["data"] = data
    return json_response(body, status)


def error_response(error: ApiError) -> Response:
    return json_response(error.envelope(), error.status, error.headers)


# A store that is down or restarting (Redis loading its AOF, Postgres refusing connections) is
# the contract's 503, not an unexpected 500: the client may retry shortly.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    psycopg.OperationalError,
    PoolTimeout,
)
UNAVAILABLE_RETRY_AFTER = "5"


def unavailable(exc: Exception) -> StreamUnavailable:
    """The 503 envelope of a data store that could not be reached (the cause only in the logs)."""
    log.warning("data store unavailable", extra={"error": type(exc).__name__})
    return StreamUnavailable(
        "a data store is temporarily unavailable; retry shortly", headers={"Retry-After": UNAVAILABLE_RETRY_AFTER}
    )


def _json_number(text: str) -> float | int:
    """A JSON number with a fraction or exponent: an integer when its value is one (``414.0``), as
    JSON Schema's ``integer`` counts it; strict models still refuse ``"5"`` for an integer."""
    value = float(text)
    return int(value) if value.is_integer() else value


def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or INVALID_REQUEST saying what is wrong with it."""
    encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
    if encoding != "identity":  # neither API Gateway nor kstock decodes a compressed request body
        raise InvalidRequest(f"Content-Encoding {encoding!r} is not supported: send the JSON body uncompressed")
    raw = request.raw_body
    if not raw:
        raise InvalidRequest("a JSON body is required")
    try:
        body = json.loads(raw, parse_float=_json_number)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"malformed JSON body: {exc.__class__.__name__}") from None
    except (ValueError, RecursionError):  # integers of thousands of digits, absurd nesting
        raise InvalidRequest("malformed JSON body: too large or too deeply nested") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the JSON body must be an object")
    return body


@dataclass(frozen=True)
class _RoutePattern:
    template: str
    regex: re.Pattern[str]
    params: tuple[str, ...]


def _compile(template: str) -> _RoutePattern:
    params = tuple(re.findall(r"{([^}/]+)}", template))
    regex = "^" + re.sub(r"\\{[^}/]+\\}", "([^/]+)", re.escape(template)) + "/?$"
    return _RoutePattern(template, re.compile(regex), params)


def envelope_chalice_errors(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice's ``http`` middleware (a public hook): refusals Chalice answers itself (unsupported
    media type, method, Accept) leave in kstock's envelope instead of its ``{"Code", "Message"}``."""
    response = get_response(request)
    if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
        message = str(response.body.get("Message") or response.body["Code"])
        status = 400 if response.status_code in (400, 415) else response.status_code
        error = (
            InvalidRequest(message)
            if status == 400
            else MethodNotAllowed(message)
            if status == 405
            else InternalError("an internal error occurred")
        )
        return error_response(error)
    return response


def refused_method(error: MethodNotAllowed, allowed: str) -> MethodNotAllowed:
    """A 405 names the methods the resource has (``Allow``, required by RFC 9110)."""
    error.headers = {**error.headers, "Allow": allowed}
    return error


ENVELOPED = "kstock_enveloped"  # marks a view already wrapped by :func:`enveloped_view`


def enveloped_view(app: Chalice, view: Callable[..., Any]) -> Callable[..., Any]:
    """``view`` with every exception it raises answered in kstock's envelope.

    Chalice turns a view's exception into its own 500 before any middleware sees it, so the
    mapping sits around the view itself. ``functools.wraps`` keeps the name, docstring and the
    OpenAPI operation attached to the view.
    """

    @functools.wraps(view)
    def call(**path_params: Any) -> Any:
        try:
            return view(**path_params)
        except ApiError as exc:
            return error_response(exc)
        except BadRequestError as exc:
            return error_response(InvalidRequest(str(exc)))
        except NotFoundError as exc:
            return error_response(NotFound(str(exc)))
        except ChaliceViewError as exc:
            return error_response(InvalidRequest(str(exc)))
        except UNAVAILABLE_ERRORS as exc:
            return error_response(unavailable(exc))
        except KisUnavailable as exc:  # KIS hung or down past the request's budget: the contract's 503
            log.warning("KIS unavailable", extra={"error": type(exc).__name__})
            return error_response(StreamUnavailable("the market data source is not answering; retry shortly"))
        except MissingSetting as exc:  # a deployment error: the operator's log names the setting, the client gets 500
            log.error("configuration error: %s", exc, extra={"setting": exc.name})
            return error_response(InternalError("an internal error occurred"))
        except Exception:
            path = getattr(app.current_request, "path", "unknown")
            log.exception("unhandled error", extra={"path": path})
            return error_response(InternalError("an internal error occurred"))

    setattr(call, ENVELOPED, True)
    return call


class KstockChalice(Chalice):
    """Chalice with proxy-path routing and the kstock error envelope."""

    def __init__(self, app_name: str) -> None:
        super().__init__(app_name=app_name)
        self._patterns: list[_RoutePattern] | None = None
        # Checks run on every routed request before its view, e.g. the rate limit (app.py):
        # guard(app, event) raises an ApiError to refuse it.
        self.guards: list[Callable[[KstockChalice, dict[str, Any]], None]] = []
        self._views_enveloped = 0  # route entries seen by _envelope_views
        self.register_middleware(envelope_chalice_errors, "http")

    def _route_patterns(self) -> list[_RoutePattern]:
        if self._patterns is None or len(self._patterns) != len(self.routes):
            # Static routes win over parameterised ones (/rankings/companies before /{id}).
            self._patterns = sorted((_compile(t) for t in self.routes), key=lambda p: (len(p.params), p.template))
        return self._patterns

    def _envelope_views(self) -> None:
        """Wrap every registered view in :func:`enveloped_view`, once (routes and blueprints may be
        registered after the app is built, so this runs when their number changes)."""
        count = sum(map(len, self.routes.values()))
        if count == self._views_enveloped:
            return
        for methods in self.routes.values():
            for entry in methods.values():
                if not getattr(entry.view_function, ENVELOPED, False):
                    entry.view_function = enveloped_view(self, entry.view_function)
        self._views_enveloped = count

    def _resolve(self, event: dict[str, Any]) -> Response | None:
        """Point the event at the Chalice route of its path; an error response if there is none."""
        context = event.setdefault("requestContext", {})
        if context.get("resourcePath") in self.routes:
            return None
        path = event.get("path") or "/"
        for pattern in self._route_patterns():
            match = pattern.regex.match(path)
            if match:
                method = context.get("httpMethod") or event.get("httpMethod")
                if method not in self.routes[pattern.template] and method != "OPTIONS":
                    allowed = ", ".join(sorted(self.routes[pattern.template]))
                    refused = MethodNotAllowed(f"{method} is not allowed on {path} (allowed: {allowed})")
                    return error_response(refused_method(refused, allowed))
                context["resourcePath"] = pattern.template
                event["pathParameters"] = dict(zip(pattern.params, match.groups(), strict=True))
                return None
        return error_response(NotFound(f"no route for {path}"))

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        early = self._resolve(event)
        if early is not None:
            return early.to_dict(self.api.binary_types)
        try:
            for guard in self.guards:
                guard(self, event)
        except ApiError as exc:
            return error_response(exc).to_dict(self.api.binary_types)
        except UNAVAILABLE_ERRORS as exc:
            return error_response(unavailable(exc)).to_dict(self.api.binary_types)
        except MissingSetting as exc:
            log.error("configuration error: %s", exc, extra={"setting": exc.name})
            return error_response(InternalError("an internal error occurred")).to_dict(self.api.binary_types)
        except Exception:
            log.exception("request guard failed", extra={"path": event.get("path")})
            return error_response(InternalError("an internal error occurred")).to_dict(self.api.binary_types)
        self._envelope_views()
        # every KIS call of this request shares one budget below the function's timeout (issue 17)
        with kis_deadline.within(get_settings().kis_request_deadline_seconds):
            return super().__call__(event, context)


# -- request models, auth and the rate limit -------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def parse_query(model: type[M], request: Request) -> M:
    """The query string as ``model`` (a :class:`kstock.validation.QueryModel`); last value wins."""
    params: Any = request.query_params or {}  # a MultiDict: get() gives the last value
    return validate(model, {name: params.get(name) for name in params}, what="query")


def parse_body(model: type[M], request: Request) -> M:
    """The JSON body as ``model`` (a :class:`kstock.validation.BodyModel`)."""
    return validate(model, json_body(request))


def bearer_token(request: Request) -> str | None:
    return tokens.bearer(request.headers.get("authorization"))


def current_user(request: Request) -> tokens.Claims:
    """The claims of the request's valid Bearer token, else ``UNAUTHORIZED``."""
    return tokens.verify(bearer_token(request))


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def rate_limit_clients(event: dict[str, Any]) -> list[str]:
    """Whom a request counts against: its source IP always, and the user of a well-signed token too.

    Only the signature is checked here (no store): a revoked token still counts against its user.
    """
    identity = (event.get("requestContext") or {}).get("identity") or {}
    clients = [f"ip:{identity.get('sourceIp') or 'unknown'}"]
    token = tokens.bearer(_header(event, "authorization"))
    if token:
        try:
            clients.append(f"user:{tokens.decode(token).user_id}")
        except Unauthorized:
            pass
    return clients


def rate_limit_guard(app: KstockChalice, event: dict[str, Any]) -> None:
    """Count the request against its client; ``TOO_MANY_REQUESTS`` with ``Retry-After`` over the
    limit. Routes documented with ``rate_limited=False`` (health) are not counted."""
    from chalicelib.openapi import operation_of

    context = event.get("requestContext") or {}
    method = str(context.get("httpMethod") or event.get("httpMethod"))
    entry = app.routes.get(str(context.get("resourcePath")), {}).get(method)
    if entry is not None:
        op = operation_of(entry.view_function)
        if op is not None and not op.rate_limited:
            return
    ratelimit.enforce(*rate_limit_clients(event))


def text_guard(app: KstockChalice, event: dict[str, Any]) -> None:
    """Refuse paths and query values PostgreSQL could not store (NUL, lone surrogates)."""
    values = [
        event.get("path") or "",
        *((event.get("queryStringParameters") or {}).values()),
        *((event.get("pathParameters") or {}).values()),
    ]
    if not all(storable_text(str(v)) for v in values if v is not None):
        raise InvalidRequest("the request contains characters that are not allowed (NUL or invalid Unicode)")
