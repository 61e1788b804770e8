"""The small exception hierarchy of the Naver search boundary.

Callers catch by meaning (bad request, auth, rate limit, daily quota, upstream unavailable)
rather than by Naver's code; the ``errorCode`` and ``errorMessage`` Naver sent are kept on the
exception for logs. Codes, from Naver's search API reference and its common error guide:

* ``SE01`` incorrect query, ``SE02`` display, ``SE03`` start, ``SE04`` sort, ``SE06`` encoding
  (HTTP 400), ``SE05`` no such search API (404): :class:`NaverBadRequest`, never retried.
* ``024`` authentication failed (HTTP 401; 403 when the call is not allowed): :class:`NaverAuthError`.
* ``012`` "Rate limit exceeded" (HTTP 429): :class:`NaverRateLimited`, retried with back-off.
* ``010`` "Query limit exceeded" (HTTP 429, the 25,000 calls/day) or kstock's own daily counter:
  :class:`NaverQuotaExceeded`, not retried before the next KST day.
* ``SE99`` system error (HTTP 500), other 5xx, network failures: :class:`NaverUnavailable`, retried.
"""

from __future__ import annotations


class NaverError(Exception):
    """Any failure talking to the Naver search API (or its stand-in)."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.message = message
        self.code = code
        self.status = status


class NaverBadRequest(NaverError):
    """The request itself is wrong (SE01-SE06): retrying cannot help."""


class NaverAuthError(NaverError):
    """Missing or wrong client id/secret, or the application lacks the search API (024)."""


class NaverRateLimited(NaverError):
    """012: too many calls per second; retried with exponential back-off before surfacing."""


class NaverQuotaExceeded(NaverError):
    """The day's call quota is spent (Naver's 010, or kstock's counter reached NAVER_DAILY_QUOTA)."""


class NaverUnavailable(NaverError):
    """Naver did not answer usefully: SE99, a gateway 5xx, a timeout or a dropped connection."""


class NaverProtocolError(NaverError):
    """An answer that does not follow the documented format (not JSON, missing fields)."""
