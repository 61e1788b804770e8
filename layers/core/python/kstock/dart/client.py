"""The OpenDART client: corp codes, filings and key accounts, written to the published wire format.

Every call sends ``crtfc_key`` (settings.dart_api_key) to ``settings.dart_api_url``; the body's
``status`` is mapped to :mod:`kstock.dart.errors` (``013``, no data, is an empty result). Only
transient failures (network, HTTP 5xx, status 900) are retried, with tenacity's jittered backoff;
a bad key, the daily limit (020) or maintenance (800) surface at once.

Simulated content: the local stand-in (:mod:`infra.dart_sim`) marks every answer with the response
header ``X-Kstock-Source: simulated``. Real OpenDART never sends it, so results carry source
``dart`` unless that header is present, whatever the base URL (a proxy to the real API stays real).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import zipfile
from collections.abc import Iterator
from datetime import date
from typing import Any
from xml.etree import ElementTree

import requests
from pydantic import ValidationError
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from kstock import provenance
from kstock.config import Settings, get_settings
from kstock.dart.accounts import key_figures
from kstock.dart.errors import (
    DartAuthError,
    DartError,
    DartMaintenance,
    DartProtocolError,
    DartUnavailable,
    error_for,
)
from kstock.dart.models import (
    DART,
    SIMULATED,
    AccountRow,
    CorpCode,
    Filing,
    FilingPage,
    PeriodFigures,
)

log = logging.getLogger("kstock.dart.client")

OK, NO_DATA = "000", "013"
MAX_PAGE_COUNT = 100  # list.json answers at most 100 filings per page


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, DartUnavailable) and not isinstance(exc, DartMaintenance)


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


class DartClient:
    """OpenDART calls kstock makes. Thread-safe for concurrent calls (one requests session)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff: float = 0.5,
        backoff_max: float = 8.0,
        session: requests.Session | None = None,
    ) -> None:
        if not api_key:
            raise DartAuthError("no OpenDART key: set DART_API_KEY (or point DART_API_URL at the stand-in)")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff, self.backoff_max = backoff, backoff_max
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_maxsize=8))
            session.mount("https://", HTTPAdapter(pool_maxsize=8))
        self.session = session
        self.calls = 0  # requests sent, retries included (progress, tests)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DartClient:
        settings = settings or get_settings()
        key = settings.dart_api_key.get_secret_value() if settings.dart_api_key else ""
        return cls(settings.dart_api_url, key)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> DartClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows the key
        return f"DartClient({self.base_url!r})"

    # -- transport -------------------------------------------------------------------------------

    def _retrying(self) -> Retrying:
        """One retry policy for every call: transient failures only, jittered exponential backoff."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info("OpenDART retry %d after %s", state.attempt_number, type(exc).__name__)

        return Retrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_random_exponential(multiplier=self.backoff, max=self.backoff_max),
            reraise=True,
            before_sleep=before_sleep,
        )

    def _get_once(self, path: str, params: dict[str, str]) -> requests.Response:
        self.calls += 1
        try:
            response = self.session.get(
                f"{self.base_url}/{path}", params={"crtfc_key": self._api_key, **params}, timeout=self.timeout
            )
        except requests.RequestException as exc:
            # The exception text can hold the URL, and the URL holds the key: name the type only.
            raise DartUnavailable(f"OpenDART {path} unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise DartUnavailable(f"OpenDART {path}: HTTP {response.status_code}", status=response.status_code)
        if response.status_code != 200:
            raise DartProtocolError(f"OpenDART {path}: HTTP {response.status_code}", status=response.status_code)
        return response

    def _json_once(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
        """The JSON body for status 000, None for 013 (no data), and the answer's source."""
        response = self._get_once(path, params)
        source = self._source(response)
        try:
            body = response.json()
        except ValueError:
            raise DartProtocolError(f"OpenDART {path} answered non-JSON") from None
        if not isinstance(body, dict):
            raise DartProtocolError(f"OpenDART {path} answered unexpected JSON")
        status = str(body.get("status", "")).strip()
        if status == NO_DATA:
            return None, source
        if status != OK:
            if status == "900":  # undefined server-side error: retried like a 5xx
                raise DartUnavailable(str(body.get("message") or ""), code=status)
            raise error_for(status, str(body.get("message") or ""))
        return body, source

    def _json(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
        result: tuple[dict[str, Any] | None, str] = self._retrying()(self._json_once, path, params)
        return result

    @staticmethod
    def _source(response: requests.Response) -> str:
        return SIMULATED if provenance.from_standin(response.headers) else DART

    # -- corpCode.xml ----------------------------------------------------------------------------

    def corp_codes(self) -> tuple[list[CorpCode], str]:
        """Listed companies of CORPCODE.xml (entries without a stock code skipped) and the source."""
        response: requests.Response = self._retrying()(self._get_once, "corpCode.xml", {})
        source = self._source(response)
        payload = response.content
        if not payload.startswith(b"PK"):
            raise self._corp_code_error(payload)
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".xml")]
                if not names:
                    raise DartProtocolError("corpCode.xml: the zip holds no XML file")
                xml = archive.read(names[0])
        except zipfile.BadZipFile as exc:
            raise DartProtocolError(f"corpCode.xml: not a zip ({exc})") from None
        return parse_corp_codes(xml), source

    @staticmethod
    def _corp_code_error(payload: bytes) -> DartError:
        """Errors come back instead of the zip, as <result><status/><message/></result> (or JSON)."""
        status = message = ""
        try:
            root = ElementTree.fromstring(payload)
            status = (root.findtext("status") or "").strip()
            message = (root.findtext("message") or "").strip()
        except ElementTree.ParseError:
            try:
                body = json.loads(payload)
                status, message = str(body.get("status", "")), str(body.get("message", ""))
            except (ValueError, AttributeError):
                pass
        if not status:
            return DartProtocolError("corpCode.xml answered neither a zip nor a status")
        if status == "900":
            return DartUnavailable(message, code=status)
        return error_for(status, message)

    # -- list.json -------------------------------------------------------------------------------

    def filings_page(
        self,
        *,
        begin: date,
        end: date,
        corp_code: str | None = None,
        kind: str | None = None,
        page_no: int = 1,
        page_count: int = MAX_PAGE_COUNT,
    ) -> FilingPage:
        """One page of filings received between ``begin`` and ``end`` (inclusive). Without a
        corp_code DART searches every company but only over at most three months."""
        params = {
            "bgn_de": _ymd(begin),
            "end_de": _ymd(end),
            "page_no": str(page_no),
            "page_count": str(min(page_count, MAX_PAGE_COUNT)),
        }
        if corp_code:
            params["corp_code"] = corp_code
        if kind:
            params["pblntf_ty"] = kind
        body, source = self._json("list.json", params)
        if body is None:
            return FilingPage(filings=[], page_no=page_no, total_page=0, total_count=0)
        rows = body.get("list") or []
        if not isinstance(rows, list):
            raise DartProtocolError("list.json: list is not a list")
        try:
            filings = [Filing.model_validate({**row, "source": source}) for row in rows if isinstance(row, dict)]
            return FilingPage(
                filings=filings,
                page_no=int(body.get("page_no") or page_no),
                total_page=int(body.get("total_page") or 0),
                total_count=int(body.get("total_count") or 0),
            )
        except (ValidationError, ValueError) as exc:
            raise DartProtocolError(f"list.json: {_first_error(exc)}") from None

    def filings(
        self, *, begin: date, end: date, corp_code: str | None = None, kind: str | None = None
    ) -> Iterator[Filing]:
        """Every filing of the range, page after page (as DART orders them: newest first)."""
        page_no = 1
        while True:
            page = self.filings_page(begin=begin, end=end, corp_code=corp_code, kind=kind, page_no=page_no)
            yield from page.filings
            if page_no >= page.total_page or not page.filings:
                return
            page_no += 1

    # -- fnlttSinglAcnt.json ---------------------------------------------------------------------

    def key_accounts(self, corp_code: str, year: int, reprt_code: str) -> tuple[list[AccountRow], str]:
        """The key-account rows of one periodic report (both CFS and OFS); empty for 013."""
        body, source = self._json(
            "fnlttSinglAcnt.json", {"corp_code": corp_code, "bsns_year": str(year), "reprt_code": reprt_code}
        )
        if body is None:
            return [], source
        rows = body.get("list") or []
        if not isinstance(rows, list):
            raise DartProtocolError("fnlttSinglAcnt.json: list is not a list")
        try:
            return [AccountRow.model_validate(row) for row in rows if isinstance(row, dict)], source
        except ValidationError as exc:
            raise DartProtocolError(f"fnlttSinglAcnt.json: {_first_error(exc)}") from None

    def period_figures(self, corp_code: str, year: int, reprt_code: str) -> PeriodFigures | None:
        """Revenue, operating profit and net income of one report, CFS preferred; None when not filed."""
        rows, source = self.key_accounts(corp_code, year, reprt_code)
        figures = key_figures(rows, source=source)
        if figures is not None and not figures.corp_code:
            figures = dataclasses.replace(figures, corp_code=corp_code)
        return figures


def parse_corp_codes(xml: bytes) -> list[CorpCode]:
    """CORPCODE.xml -> the entries that carry a stock code (blank means not listed)."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise DartProtocolError(f"CORPCODE.xml is not XML: {exc}") from None
    codes = []
    for entry in root.iter("list"):
        stock_code = (entry.findtext("stock_code") or "").strip()
        if not stock_code:
            continue
        try:
            codes.append(
                CorpCode.model_validate(
                    {
                        "corp_code": entry.findtext("corp_code") or "",
                        "corp_name": entry.findtext("corp_name") or "",
                        "stock_code": stock_code,
                        "modify_date": entry.findtext("modify_date"),
                    }
                )
            )
        except ValidationError as exc:
            raise DartProtocolError(f"CORPCODE.xml: {_first_error(exc)}") from None
    return codes


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)
