"""The Naver news search client: ``GET {NAVER_API_URL}/v1/search/news.json``.

Wire format (Naver search API reference, news): query string ``query`` (UTF-8), ``display``
(1-100), ``start`` (1-1000), ``sort`` (``date`` newest first, or ``sim``); headers
``X-Naver-Client-Id`` / ``X-Naver-Client-Secret``. The answer is
``{"lastBuildDate", "total", "start", "display", "items": [{title, originallink, link,
description, pubDate}]}`` with ``pubDate`` in RFC 822 (``Mon, 14 Jul 2025 09:31:00 +0900``).
``title`` and ``description`` wrap the query in ``<b>`` and carry HTML entities (``&quot;``):
:func:`clean_text` turns them into plain text. Errors are ``{"errorMessage", "errorCode"}``,
mapped to :mod:`kstock.news.errors`.

Each attempt takes one unit of the daily quota (:mod:`kstock.news.quota`) before it is sent;
012 (too many calls per second) and unavailable answers are retried with exponential back-off
and jitter (tenacity); 010 (Naver's daily limit) marks the day's quota spent for every worker.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from kstock.config import Settings, get_settings
from kstock.news.errors import (
    NaverAuthError,
    NaverBadRequest,
    NaverError,
    NaverProtocolError,
    NaverQuotaExceeded,
    NaverRateLimited,
    NaverUnavailable,
)
from kstock.news.quota import DailyQuota, app_id

log = logging.getLogger("kstock.news.naver")

NEWS_PATH = "/v1/search/news.json"
REAL_HOST = "openapi.naver.com"
MAX_DISPLAY = 100
MAX_START = 1000
# Credentials sent to a stand-in or proxy when none are configured (the stand-in wants the
# headers present, like Naver, but any value will do).
STAND_IN_CLIENT_ID = "kstock-stand-in"
STAND_IN_CLIENT_SECRET = "kstock-stand-in"

_BAD_REQUEST_CODES = {"SE01", "SE02", "SE03", "SE04", "SE05", "SE06"}
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Naver's highlighted HTML fragment as plain text: tags dropped, then entities decoded
    (in this order, so a decoded ``&lt;`` in the text is never mistaken for a tag)."""
    return _SPACES.sub(" ", html.unescape(_TAG.sub("", value))).strip()


@dataclass(frozen=True, slots=True)
class NewsArticle:
    title: str  # plain text
    description: str  # plain text
    original_link: str  # the publisher's URL; "" when Naver has none
    link: str  # Naver's URL (the publisher's again when Naver does not host it)
    published_at: datetime  # aware

    @property
    def canonical_url(self) -> str:
        """The article's identity: the publisher's URL, else Naver's (one article, many links)."""
        return self.original_link or self.link


@dataclass(frozen=True, slots=True)
class NewsPage:
    total: int
    start: int
    display: int
    items: list[NewsArticle]


def _error_for(status: int, body: dict[str, Any]) -> NaverError:
    code = str(body.get("errorCode") or "") or None
    message = str(body.get("errorMessage") or f"HTTP {status}")
    if code == "010":
        return NaverQuotaExceeded(message, code=code, status=status)
    if code == "012" or status == 429:
        return NaverRateLimited(message, code=code, status=status)
    if code == "024" or status in (401, 403):
        return NaverAuthError(message, code=code, status=status)
    if code in _BAD_REQUEST_CODES or status in (400, 404):
        return NaverBadRequest(message, code=code, status=status)
    return NaverUnavailable(message, code=code, status=status)


def _article(raw: Any) -> NewsArticle:
    if not isinstance(raw, dict):
        raise NaverProtocolError("an item is not an object")
    try:
        published = parsedate_to_datetime(str(raw["pubDate"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise NaverProtocolError(f"bad pubDate {raw.get('pubDate')!r}") from exc
    if published.tzinfo is None:
        raise NaverProtocolError(f"pubDate without a zone: {raw['pubDate']!r}")
    original, link = str(raw.get("originallink") or "").strip(), str(raw.get("link") or "").strip()
    if not (original or link):
        raise NaverProtocolError("an item without originallink or link")
    return NewsArticle(
        clean_text(str(raw.get("title") or "")),
        clean_text(str(raw.get("description") or "")),
        original,
        link,
        published,
    )


def parse_page(body: Any) -> NewsPage:
    """A 200 answer as a typed page (raises NaverProtocolError on a malformed one)."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise NaverProtocolError("the answer has no items list")
    try:
        return NewsPage(
            int(body.get("total") or 0),
            int(body.get("start") or 1),
            int(body.get("display") or 0),
            [_article(item) for item in body["items"]],
        )
    except (TypeError, ValueError) as exc:
        raise NaverProtocolError(f"bad paging fields: {exc}") from exc


class NaverNewsClient:
    """Naver news search for kstock. Thread-safe enough to share per process (one requests session)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        quota: DailyQuota | None = None,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        backoff_max: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.quota = quota
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff, self.backoff_max = backoff, backoff_max
        self.session = session or requests.Session()
        self.calls = 0  # attempts sent (benchmarks, tests)
        self.rate_limited_retries = 0  # 012 / 429 answers absorbed by retries

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> NaverNewsClient:
        """The client for NAVER_API_URL with the configured keys; a stand-in or proxy without keys
        gets placeholder credentials, the real API without keys is a configuration error."""
        settings = settings or get_settings()
        if settings.naver_client_id is not None and settings.naver_client_secret is not None:
            client_id = settings.naver_client_id.get_secret_value()
            secret = settings.naver_client_secret.get_secret_value()
        elif urlsplit(settings.naver_api_url).hostname == REAL_HOST:
            raise NaverAuthError("NAVER_CLIENT_ID and NAVER_CLIENT_SECRET must be set to call the real Naver API")
        else:
            client_id, secret = STAND_IN_CLIENT_ID, STAND_IN_CLIENT_SECRET
        kwargs.setdefault("quota", DailyQuota(app_id(client_id), settings.naver_daily_quota))
        return cls(settings.naver_api_url, client_id, secret, **kwargs)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> NaverNewsClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- calls -----------------------------------------------------------------------------------

    def search(self, query: str, *, display: int = MAX_DISPLAY, start: int = 1, sort: str = "date") -> NewsPage:
        """One page of news for ``query`` (newest first with ``sort="date"``)."""
        if not query.strip():
            raise NaverBadRequest("empty query", code="SE01")
        if not 1 <= display <= MAX_DISPLAY:
            raise NaverBadRequest(f"display {display} outside 1..{MAX_DISPLAY}", code="SE02")
        if not 1 <= start <= MAX_START:
            raise NaverBadRequest(f"start {start} outside 1..{MAX_START}", code="SE03")
        params = {"query": query, "display": str(display), "start": str(start), "sort": sort}

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, NaverRateLimited):
                self.rate_limited_retries += 1
            log.info("Naver news retry %d after %s", state.attempt_number, type(exc).__name__)

        retrying = Retrying(
            retry=retry_if_exception_type((NaverRateLimited, NaverUnavailable)),
            wait=wait_random_exponential(multiplier=self.backoff, max=self.backoff_max),
            stop=stop_after_attempt(self.max_attempts),
            reraise=True,
            before_sleep=before_sleep,
        )
        return retrying(self._attempt, params)

    def pages(self, query: str, *, display: int = MAX_DISPLAY, limit: int = MAX_START) -> Iterator[NewsPage]:
        """Successive pages, newest first, until ``limit`` items, the last result or Naver's start bound."""
        start = 1
        while start <= min(limit, MAX_START):
            page = self.search(query, display=min(display, limit - start + 1), start=start)
            yield page
            start += len(page.items)
            if not page.items or start > page.total:
                return

    def _attempt(self, params: dict[str, str]) -> NewsPage:
        if self.quota is not None:
            self.quota.take()
        self.calls += 1
        headers = {"X-Naver-Client-Id": self._client_id, "X-Naver-Client-Secret": self._client_secret}
        try:
            response = self.session.get(self.base_url + NEWS_PATH, params=params, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NaverUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            if response.status_code >= 500:
                raise NaverUnavailable(f"HTTP {response.status_code}", status=response.status_code) from None
            raise NaverProtocolError(f"HTTP {response.status_code}: not JSON", status=response.status_code) from None
        if response.status_code != 200:
            error = _error_for(response.status_code, body if isinstance(body, dict) else {})
            if isinstance(error, NaverQuotaExceeded) and self.quota is not None:
                self.quota.exhaust()
            raise error
        return parse_page(body)
