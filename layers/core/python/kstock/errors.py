"""The errors a client can be told about, with the API contract's codes (docs/architecture.md, "The REST envelope").

Services raise these; the HTTP layer turns them into the error envelope
``{"status": <http>, "code": "<CODE>", "message": "..."}``.
"""

from __future__ import annotations


class ApiError(Exception):
    status: int = 400
    code: str = "INVALID_REQUEST"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def envelope(self) -> dict[str, object]:
        return {"status": self.status, "code": self.code, "message": self.message}


class MissingField(ApiError):
    status, code = 400, "MISSING_FIELD"


class InvalidRequest(ApiError):
    status, code = 400, "INVALID_REQUEST"


class InvalidPassword(ApiError):
    status, code = 400, "INVALID_PASSWORD"


class Unauthorized(ApiError):
    status, code = 401, "UNAUTHORIZED"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class MethodNotAllowed(ApiError):
    status, code = 405, "INVALID_REQUEST"


class AlreadyExists(ApiError):
    status, code = 409, "ALREADY_EXISTS"


class TooManyRequests(ApiError):
    status, code = 429, "TOO_MANY_REQUESTS"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class StreamUnavailable(ApiError):
    status, code = 503, "STREAM_UNAVAILABLE"


class InternalError(ApiError):
    """Never raised on purpose: the envelope of an unexpected failure (details only in logs)."""

    status, code = 500, "INTERNAL_ERROR"
