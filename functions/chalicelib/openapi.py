"""The OpenAPI 3.1 document of the REST API, generated from the routes registered on the app.

A route states what it takes and answers with :func:`operation`, next to ``@bp.route``; the
same pydantic models parse the request (``web.parse_query`` / ``web.parse_body``), shape the
answer and describe both here, so the document cannot drift from the code::

    from chalice import Blueprint

    from kstock.errors import NotFound
    from kstock.schemas import CamelModel
    from kstock.validation import QueryModel
    from chalicelib.openapi import ID, operation
    from chalicelib.web import ok, parse_query

    bp = Blueprint(__name__)

    class OhlcvQuery(QueryModel):                # query string -> parameters (camelCase names)
        interval: Literal["1m", "15m", "1h", "1d"] = "1d"
        start: str | None = None

    class Bar(CamelModel):                       # the envelope's "data" (here a list of them)
        time: int
        close: float

    @bp.route("/companies/{companyId}/ohlcv", methods=["GET"])
    @operation("OHLCV bars of a company", tags=["companies"], path={"companyId": ID},
               query=OhlcvQuery, response=list[Bar], errors=[NotFound])
    def ohlcv(companyId):
        query = parse_query(OhlcvQuery, bp.current_request)
        ...
        return ok([bar.wire() for bar in bars], "...")

What :func:`operation` takes (all but ``summary`` optional):

- ``tags``: groups in the docs page; ``description``: longer text (default: the docstring).
- ``path``: ``{name: PathParam}`` for the ``{name}`` segments (:data:`ID` = positive integer id);
  undeclared segments are documented as strings.
- ``query``: a :class:`kstock.validation.QueryModel`, each field one query parameter.
- ``body``: a :class:`kstock.validation.BodyModel`, the JSON request body (required).
- ``response``: the success envelope's ``data``: a model, ``list[Model]``, a JSON schema dict,
  or None (no ``data``). ``top_level``: a model whose fields sit beside ``data`` (login's
  ``accessToken``). ``status``: the success status (200).
- ``errors``: the :class:`kstock.errors.ApiError` classes the route may raise. Added by
  themselves: ``INVALID_REQUEST`` for routes with path/query/body input, ``MISSING_FIELD`` when
  an input field is required, ``UNAUTHORIZED`` with ``auth=True`` (Bearer JWT) and
  ``TOO_MANY_REQUESTS`` with ``Retry-After`` unless ``rate_limited=False``.
- ``responses``: more success-shaped answers, ``{503: ("a dependency is down", Model)}``.
- ``media_type`` / ``raw=True``: a non-JSON or non-enveloped answer (the docs page itself);
  ``include=False`` leaves the route out of the document.

Routes without :func:`operation` are still listed (path parameters, a generic answer), so
nothing registered is missing from the document; declare them to document them properly.
"""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from kstock import __version__
from kstock.errors import ApiError, InvalidRequest, MissingField, TooManyRequests, Unauthorized
from kstock.validation import MAX_BIG_ID, MAX_ID

if TYPE_CHECKING:
    from chalice.app import Chalice

View = TypeVar("View", bound=Callable[..., Any])  # a route's view function

JSON = "application/json"
REF = "#/components/schemas/{model}"
ATTRIBUTE = "__openapi__"


@dataclass(frozen=True)
class PathParam:
    schema: Mapping[str, Any]
    description: str = ""


ID = PathParam({"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Numeric id.")
BIG_ID = PathParam({"type": "integer", "minimum": 1, "maximum": MAX_BIG_ID}, "Numeric id.")


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str | None = None
    tags: tuple[str, ...] = ()
    path: Mapping[str, PathParam] = field(default_factory=dict)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: Any = None
    top_level: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[type[ApiError], ...] = ()
    auth: bool = False
    responses: Mapping[int, tuple[str, Any]] = field(default_factory=dict)
    media_type: str = JSON
    raw: bool = False
    rate_limited: bool = True
    include: bool = True
    declared: bool = True


def operation(
    summary: str,
    *,
    description: str | None = None,
    tags: Iterable[str] = (),
    path: Mapping[str, PathParam] | None = None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: Any = None,
    top_level: type[BaseModel] | None = None,
    status: int = 200,
    errors: Iterable[type[ApiError]] = (),
    auth: bool = False,
    responses: Mapping[int, tuple[str, Any]] | None = None,
    media_type: str = JSON,
    raw: bool = False,
    rate_limited: bool = True,
    include: bool = True,
) -> Callable[[View], View]:
    """Attach an :class:`Operation` to a view function (returned unchanged, so decorator order
    with ``@bp.route`` does not matter)."""

    def decorate(view: View) -> View:
        setattr(
            view,
            ATTRIBUTE,
            Operation(
                summary=summary,
                description=description or _docstring(view),
                tags=tuple(tags),
                path=dict(path or {}),
                query=query,
                body=body,
                response=response,
                top_level=top_level,
                status=status,
                errors=tuple(errors),
                auth=auth,
                responses=dict(responses or {}),
                media_type=media_type,
                raw=raw,
                rate_limited=rate_limited,
                include=include,
            ),
        )
        return view

    return decorate


def operation_of(view: Callable[..., Any]) -> Operation | None:
    found = getattr(view, ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


def _docstring(view: Callable[..., Any]) -> str | None:
    doc = (view.__doc__ or "").strip()
    return re.sub(r"\s*\n\s*", " ", doc) or None


# -- schema collection ------------------------------------------------------------------------


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _list_item(value: Any) -> Any:
    if typing.get_origin(value) is list:
        (item,) = typing.get_args(value)
        return item
    return None


class _Schemas:
    """Every model of the document, rendered once into ``components/schemas``."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = []
        for op in operations:
            if op.body is not None:
                pairs.append((op.body, "validation"))
            for value in [op.response, op.top_level, *(data for _, data in op.responses.values())]:
                model = _list_item(value) or value
                if _is_model(model):
                    pairs.append((model, "serialization"))
        unique = list(dict.fromkeys(pairs))
        if unique:
            self.refs, top = models_json_schema(unique, ref_template=REF, by_alias=True)
            self.components: dict[str, Any] = dict(top.get("$defs", {}))
        else:
            self.refs, self.components = {}, {}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self.refs[(model, mode)])

    def data(self, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        if isinstance(value, Mapping):
            return dict(value)
        item = _list_item(value)
        if item is not None and _is_model(item):
            return {"type": "array", "items": self.ref(item, "serialization")}
        if _is_model(value):
            return self.ref(value, "serialization")
        raise TypeError(f"cannot document response type {value!r}")


def _inline(schema: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return _inline(dict(defs[ref.rsplit("/", 1)[-1]]), defs)
    return schema


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never JSON null."""
    options = schema.get("anyOf")
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        schema = {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
    if schema.get("default", ...) is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(_inline(dict(prop), defs))
        description = prop.pop("description", None)
        prop.pop("title", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _has_required(model: type[BaseModel] | None) -> bool:
    return model is not None and any(f.is_required() for f in model.model_fields.values())


# -- responses ----------------------------------------------------------------------------------


def _envelope(status: int, data: dict[str, Any] | None, top_level: dict[str, Any] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"status": {"type": "integer", "enum": [status]}, "message": {"type": "string"}}
    required = ["status", "message"]
    if data is not None:
        properties["data"] = data
        required.append("data")
    schema: dict[str, Any] = {"type": "object", "required": required, "properties": properties}
    return {"allOf": [schema, top_level]} if top_level else schema


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": " / ".join(codes),
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["status", "code", "message"],
                    "properties": {
                        "status": {"type": "integer", "enum": [status]},
                        "code": {"type": "string", "enum": codes},
                        "message": {"type": "string"},
                    },
                }
            }
        },
    }
    if status == TooManyRequests.status:
        response["headers"] = {
            "Retry-After": {
                "required": True,
                "description": "Seconds until this client's window resets.",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response


def _errors(op: Operation, path_params: list[str]) -> dict[int, list[str]]:
    classes: list[type[ApiError]] = list(op.errors)
    if path_params or op.query is not None or op.body is not None:
        classes.append(InvalidRequest)
    if _has_required(op.query) or op.body is not None:
        classes.append(MissingField)
    if op.auth:
        classes.append(Unauthorized)
    if op.rate_limited:
        classes.append(TooManyRequests)
    grouped: dict[int, list[str]] = {}
    for error in classes:
        codes = grouped.setdefault(error.status, [])
        if error.code not in codes:
            codes.append(error.code)
    return grouped


def _parameters(op: Operation, names: list[str]) -> list[dict[str, Any]]:
    """The path segments (``{name}`` of the template), then the query model's fields."""
    parameters = []
    for name in names:
        param = op.path.get(name, PathParam({"type": "string"}))
        entry = {"name": name, "in": "path", "required": True, "schema": dict(param.schema)}
        if param.description:
            entry["description"] = param.description
        parameters.append(entry)
    if op.query is not None:
        parameters.extend(_query_parameters(op.query))
    return parameters


def _success(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    """The route's own answer, and the other success-shaped answers it declares."""
    responses: dict[str, Any] = {}
    if op.raw:
        responses[str(op.status)] = {"description": op.summary, "content": {op.media_type: {}}}
    else:
        top = schemas.ref(op.top_level, "serialization") if op.top_level else None
        responses[str(op.status)] = {
            "description": op.summary,
            "content": {op.media_type: {"schema": _envelope(op.status, schemas.data(op.response), top)}},
        }
    for status, (description, data) in op.responses.items():
        responses[str(status)] = {
            "description": description,
            "content": {JSON: {"schema": _envelope(status, schemas.data(data), None)}},
        }
    return responses


# a route that did not declare itself: any envelope may come back
_UNDECLARED = {
    "description": "not declared by the route",
    "content": {
        JSON: {"schema": {"type": "object", "required": ["status"], "properties": {"status": {"type": "integer"}}}}
    },
}


def _operation(op: Operation, method: str, template: str, view_name: str, schemas: _Schemas) -> dict[str, Any]:
    names = re.findall(r"{([^}/]+)}", template)
    out: dict[str, Any] = {"operationId": f"{view_name}_{method.lower()}", "summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.tags:
        out["tags"] = list(op.tags)
    parameters = _parameters(op, names)
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": schemas.ref(op.body, "validation")}}}
    if op.auth:
        out["security"] = [{"bearerAuth": []}]
    responses = _success(op, schemas)
    for status, codes in sorted(_errors(op, names).items()):
        responses[str(status)] = _error_response(status, codes)
    if not op.declared:
        responses["default"] = copy.deepcopy(_UNDECLARED)
    out["responses"] = responses
    return out


def _fallback(view: Callable[..., Any]) -> Operation:
    doc = _docstring(view) or view.__name__.replace("_", " ")
    return Operation(summary=doc.split(". ")[0][:120], description=doc, declared=False)


def document(app: Chalice, *, title: str = "kstock API") -> dict[str, Any]:
    """The OpenAPI document of every route registered on ``app`` (a Chalice app)."""
    entries: list[tuple[str, str, str, Operation]] = []
    for template, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            op = operation_of(entry.view_function) or _fallback(entry.view_function)
            if op.include:
                entries.append((template, method, entry.view_name, op))
    schemas = _Schemas(op for *_, op in entries)
    paths: dict[str, Any] = {}
    for template, method, view_name, op in entries:
        paths.setdefault(template, {})[method.lower()] = _operation(op, method, template, view_name, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": __version__,
            "description": "Korean stock (KOSPI / KOSDAQ / ELW) analysis API. Success: "
            '`{"status", "message", "data"}`; error: `{"status", "code", "message"}`.',
        },
        "servers": [{"url": ".", "description": "relative to this document (the API stage root)"}],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
