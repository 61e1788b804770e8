"""Request models and their validation into the API's error codes.

Bodies and query strings are parsed by pydantic models (camelCase on the wire, see
:class:`kstock.schemas.CamelModel`); a failure becomes ``MISSING_FIELD`` when a required field is
absent and ``INVALID_REQUEST`` otherwise, naming the field. Text that PostgreSQL cannot store (NUL
characters, lone surrogates) is refused here, so it never reaches the database as a 500.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from kstock.errors import InvalidRequest, MissingField
from kstock.schemas import CamelModel

M = TypeVar("M", bound=BaseModel)

MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000
MAX_ID = 2**31 - 1  # serial ids; larger values cannot exist (and would overflow int4 parameters)
MAX_BIG_ID = 2**63 - 1  # bigserial ids


class BodyModel(CamelModel):
    """A JSON request body: types are strict (``"5"`` is not an integer), unknown keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class QueryModel(CamelModel):
    """Query-string parameters: strings converted to the declared types, unknown names ignored."""

    model_config = ConfigDict(extra="ignore")


class PageQuery(QueryModel):
    """``page`` (from 1) and ``size`` (1..100) of a list."""

    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    size: int = Field(20, ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (at most {MAX_PAGE_SIZE}).")

    @property
    def limit(self) -> int:
        return self.size

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def storable_text(value: str) -> bool:
    """Whether PostgreSQL can store ``value`` as text (no NUL, valid UTF-8 once encoded)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from "\\ud800" in JSON
        return False
    return True


def _check_text(data: Any, where: str) -> None:
    if isinstance(data, str):
        if not storable_text(data):
            raise InvalidRequest(f"{where} contains characters that are not allowed (NUL or invalid Unicode)")
    elif isinstance(data, dict):
        for key, value in data.items():
            _check_text(key, where)
            _check_text(value, f"{key}" if where == "body" else f"{where}.{key}")
    elif isinstance(data, list):
        for item in data:
            _check_text(item, where)


def _location(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error.get("loc", ())) or "body"


def _message(error: ErrorDetails) -> str:
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


def validate(model: type[M], data: Any, *, what: str = "body") -> M:
    """``data`` as ``model``; :class:`MissingField` / :class:`InvalidRequest` saying which field is wrong."""
    _check_text(data, what)
    if not isinstance(data, dict):
        raise InvalidRequest(f"the {what} must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        missing = [e for e in errors if e.get("type") == "missing"]
        if missing:
            raise MissingField(f"{_location(missing[0])} is required") from None
        first = errors[0]
        raise InvalidRequest(f"{_location(first)}: {_message(first)}") from None


def parse_id(value: Any, name: str, *, maximum: int = MAX_ID) -> int:
    """A path id: a positive integer (``INVALID_REQUEST`` otherwise)."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 19 or not 1 <= int(text) <= maximum:
        raise InvalidRequest(f"{name} must be an integer from 1 to {maximum}")
    return int(text)
