"""The Naver news search stand-in: ``GET /v1/search/news.json`` on loopback, Naver's wire format.

Same request (``query``, ``display`` 1-100, ``start`` 1-1000, ``sort`` date|sim, both
``X-Naver-Client-*`` headers required), same answer shape and the same error bodies
(``{"errorMessage", "errorCode"}``: SE01-SE06 with 400/404, 024 with 401, 010/012 with 429,
SE99 with 500). Content comes from :class:`infra.naver_sim.content.Newsroom` and is labelled
simulated. ``sort=sim`` answers in date order (the stand-in has no relevance model).

Programmatic use (``kstock up``, tests)::

    async with NaverStandIn(port=0) as naver:
        naver.url                       # NAVER_API_URL for clients
        naver.fail_next(429, "012")     # scripted failures for contract tests

``NaverStandInThread`` runs it on its own loop for synchronous callers; ``python -m kstock_local.naver_sim``
serves it until interrupted.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from kstock.market.calendar import KST
from kstock_local.naver_sim.content import Newsroom, labelled, rfc822
from kstock_local.standin import LoopbackServer, ServerThread, serve_forever

log = logging.getLogger("kstock_local.naver_sim")

NEWS_PATH = "/v1/search/news.json"

# Error bodies as Naver writes them (search API reference; common error guide; captured answers).
MESSAGES = {
    "SE01": "Incorrect query request (잘못된 쿼리요청입니다.)",
    "SE02": "Invalid display value (부적절한 display 값입니다.)",
    "SE03": "Invalid start value (부적절한 start 값입니다.)",
    "SE04": "Invalid sort value (부적절한 sort 값입니다.)",
    "SE05": "Invalid search api (존재하지 않는 검색 api 입니다.)",
    "SE06": "Malformed encoding (잘못된 형식의 인코딩입니다.)",
    "SE99": "System Error (시스템 에러)",
    "010": "Query limit exceeded.",
    "012": "Rate limit exceeded. (속도 제한을 초과했습니다.)",
    "024": "Not Exist Client ID : Authentication failed. (인증에 실패했습니다.)",
}
WRONG_CREDENTIALS = "NID AUTH Result Invalid (1000) : Authentication failed. (인증에 실패했습니다.)"
STATUS = {"SE05": 404, "SE99": 500, "010": 429, "012": 429, "024": 401}


def json_response(body: object, status: int = 200) -> web.Response:
    """JSON in raw UTF-8, as Naver sends it (not ``\\u`` escapes)."""
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json", charset="utf-8"
    )


def error_response(code: str, message: str | None = None, status: int | None = None) -> web.Response:
    return json_response(
        {"errorMessage": message or MESSAGES.get(code, code), "errorCode": code}, status=status or STATUS.get(code, 400)
    )


@dataclass
class Stats:
    requests: int = 0
    answered: int = 0  # 200s
    items_sent: int = 0


class NaverStandIn(LoopbackServer):
    name = "Naver news stand-in"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 20250714,
        client_id: str | None = None,
        client_secret: str | None = None,
        daily_limit: int | None = None,
        clock: Callable[[], datetime] | None = None,
        newsroom: Newsroom | None = None,
    ) -> None:
        super().__init__(host, port)
        self.newsroom = newsroom or Newsroom(seed)
        self.clock = clock or (lambda: datetime.now(KST))
        # None: any non-empty id and secret are accepted (no keys are configured locally).
        self.client_id, self.client_secret = client_id, client_secret
        self.daily_limit = daily_limit
        self.stats = Stats()
        self._failures: deque[tuple[int, str, str | None]] = deque()
        self._calls_by_day: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(NEWS_PATH, self._news)
        app.router.add_route("*", "/v1/search/{api}", self._unknown_api)
        return app

    # -- hooks for tests ---------------------------------------------------------------------------

    def fail_next(self, status: int, code: str, times: int = 1, message: str | None = None) -> None:
        """Answer the next ``times`` authenticated searches with this Naver error instead."""
        self._failures.extend([(status, code, message)] * times)

    # -- handlers ----------------------------------------------------------------------------------

    async def _unknown_api(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        return error_response("SE05")

    async def _news(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        refused = self._authenticate(request) or self._count_call() or self._scripted_failure()
        if refused is not None:
            return refused
        query = request.query.get("query", "")
        if not query.strip():
            return error_response("SE01")
        display, start = _int(request.query.get("display", "10")), _int(request.query.get("start", "1"))
        if display is None or not 1 <= display <= 100:
            return error_response("SE02")
        if start is None or not 1 <= start <= 1000:
            return error_response("SE03")
        if request.query.get("sort", "sim") not in ("sim", "date"):
            return error_response("SE04")
        now = self.clock()
        found = self.newsroom.articles(query, now)
        page = found[start - 1 : start - 1 + display]
        self.stats.answered += 1
        self.stats.items_sent += len(page)
        return json_response(
            {
                "lastBuildDate": rfc822(now),
                "total": len(found),
                "start": start,
                "display": len(page),
                "items": [labelled(article, query) for article in page],
            }
        )

    def _authenticate(self, request: web.Request) -> web.Response | None:
        client_id = request.headers.get("X-Naver-Client-Id", "")
        secret = request.headers.get("X-Naver-Client-Secret", "")
        if not client_id:
            return error_response("024")
        if not secret or (self.client_id is not None and (client_id, secret) != (self.client_id, self.client_secret)):
            return error_response("024", WRONG_CREDENTIALS)
        return None

    def _count_call(self) -> web.Response | None:
        if self.daily_limit is None:
            return None
        day = self.clock().astimezone(KST).date().isoformat()
        calls = self._calls_by_day.get(day, 0)
        if calls >= self.daily_limit:
            return error_response("010")
        self._calls_by_day[day] = calls + 1
        return None

    def _scripted_failure(self) -> web.Response | None:
        if not self._failures:
            return None
        status, code, message = self._failures.popleft()
        return error_response(code, message, status)


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


class NaverStandInThread(ServerThread[NaverStandIn]):
    """The stand-in on its own event loop in a daemon thread, for synchronous callers and tests."""

    def __init__(self, standin: NaverStandIn | None = None) -> None:
        super().__init__(standin or NaverStandIn())


__all__ = ["NaverStandIn", "NaverStandInThread", "serve_forever"]
