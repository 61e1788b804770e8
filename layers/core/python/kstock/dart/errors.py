"""The small exception hierarchy of the OpenDART boundary.

OpenDART answers HTTP 200 with a ``status`` code in the body. Callers catch by meaning; the code
and message DART sent are kept on the exception for logs. ``013`` (no data) is not an error: the
client answers it with an empty result.

Codes (OpenDART developer guide, 메시지 설명):
000 정상 · 010 등록되지 않은 키 · 011 사용할 수 없는 키 · 012 접근할 수 없는 IP · 013 조회된 데이타가
없음 · 014 파일이 존재하지 않음 · 020 요청 제한 초과 · 021 조회 가능한 회사 개수 초과 (최대 100건) ·
100 필드의 부적절한 값 · 101 부적절한 접근 · 800 시스템 점검 · 900 정의되지 않은 오류 ·
901 개인정보 보유기간 만료로 사용할 수 없는 키.
"""

from __future__ import annotations


class DartError(Exception):
    """Any failure talking to OpenDART (or the local stand-in)."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.message = message
        self.code = code
        self.status = status


class DartAuthError(DartError):
    """010/011/012/901: the key is unknown, suspended, expired, or used from an unregistered IP."""


class DartQuotaExceeded(DartError):
    """020: over the key's daily request limit (20,000 by default); retrying today is pointless."""


class DartRequestError(DartError):
    """014/021/100/101: the request itself is wrong (bad field, too many companies, no such file)."""


class DartUnavailable(DartError):
    """Transient: network failure, HTTP 5xx, 900 undefined error. Retried with backoff."""


class DartMaintenance(DartUnavailable):
    """800: the service is down for maintenance (hours, not seconds): not retried, the job runs again later."""


class DartProtocolError(DartError):
    """An answer that does not follow the wire format (not JSON, not a zip, missing fields)."""


_BY_CODE: dict[str, type[DartError]] = {
    "010": DartAuthError,
    "011": DartAuthError,
    "012": DartAuthError,
    "901": DartAuthError,
    "020": DartQuotaExceeded,
    "014": DartRequestError,
    "021": DartRequestError,
    "100": DartRequestError,
    "101": DartRequestError,
    "800": DartMaintenance,
    "900": DartUnavailable,
}


def error_for(code: str, message: str, *, status: int | None = None) -> DartError:
    """The exception for a non-000, non-013 status code (unknown codes are plain DartError)."""
    return _BY_CODE.get(code, DartError)(message or f"OpenDART status {code}", code=code, status=status)
