"""The small exception hierarchy of the KIS boundary.

Callers catch by meaning (auth, rate limit, not found, upstream unavailable) rather than by KIS
message code; the code and message KIS sent are kept on the exception for logs.
"""

from __future__ import annotations


class KisError(Exception):
    """Any failure talking to KIS (or the simulator)."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.message = message
        self.code = code
        self.status = status


class KisAuthError(KisError):
    """Bad app key/secret, invalid or missing token, no permission."""


class KisTokenExpired(KisAuthError):
    """EGW00123: the access token expired; the client re-issues once and retries."""


class KisTokenIssueLimited(KisAuthError):
    """EGW00133 or our own guard: a token may be issued at most once per minute per app key."""


class KisRateLimited(KisError):
    """EGW00201: over the per-second request budget (retried with backoff before surfacing)."""


class KisNotFound(KisError):
    """The instrument or data asked for does not exist."""


class KisUnavailable(KisError):
    """KIS did not answer usefully: network failure, gateway 5xx, temporary error codes."""


class KisDeadlineExceeded(KisUnavailable):
    """The time an API request may spend on KIS ran out (kstock.kis.deadline); not retried."""


class KisProtocolError(KisError):
    """An answer that does not follow the protocol (unparseable JSON, missing fields)."""


class MalformedFrame(KisProtocolError):
    """A realtime frame that cannot be parsed; the reader logs and skips it."""


# -- WebSocket control errors (OPSP codes) -----------------------------------------------------


class KisWsError(KisError):
    """A WebSocket control answer with rt_cd != "0" (other than OPSP0002, which is success)."""

    def __init__(self, message: str, *, code: str | None = None, tr_id: str = "", tr_key: str = "") -> None:
        super().__init__(message, code=code)
        self.tr_id = tr_id
        self.tr_key = tr_key


class KisMaxSubscriptions(KisWsError):
    """OPSP0008 MAX SUBSCRIBE OVER: the session already holds the maximum registrations (41)."""


class KisAppKeyInUse(KisWsError):
    """OPSP8996 ALREADY IN USE appkey: another live session holds this app key."""


class KisInvalidApproval(KisWsError):
    """OPSP0010/OPSP0011: the approval key is unknown; a fresh one is needed."""


class KisSubscriptionError(KisWsError):
    """Any other refused registration (invalid tr_id/tr_key, internal error, parsing error)."""


class KisWsClosed(KisError):
    """The connection was closed while waiting for an answer."""
