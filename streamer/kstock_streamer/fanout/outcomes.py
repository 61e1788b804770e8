"""What became of one ``@connections`` call, from API Gateway's answer."""

from __future__ import annotations

OK, GONE, THROTTLED, FAILED = "ok", "gone", "throttled", "failed"


def classify(status: int, error: str) -> str:
    """``error``: the ``x-amzn-errortype`` header, else the body.

    410: the client left without ``$disconnect`` reaching us. 429 / ``LimitExceededException``:
    slow down. Anything else that is not 2xx (5xx, 403, ...) failed."""
    if status < 300:
        return OK
    if status == 410:
        return GONE
    if status == 429 or "LimitExceeded" in error or "Throttl" in error:
        return THROTTLED
    return FAILED
