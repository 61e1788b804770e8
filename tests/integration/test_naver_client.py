"""Contract tests of the Naver news client: against scripted answers in Naver's captured wire
format (a small aiohttp server in this module), and against kstock's stand-in, over real sockets."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from support.envs import environment

from kstock.news.errors import (
    NaverAuthError,
    NaverBadRequest,
    NaverProtocolError,
    NaverQuotaExceeded,
    NaverUnavailable,
)
from kstock.news.naver import STAND_IN_CLIENT_ID, NaverNewsClient, clean_text
from kstock.news.quota import DailyQuota
from kstock_local.embedded import free_port
from kstock_local.naver_sim import NaverStandInThread

# An item as the real API sends it: the query in <b>, quotes as &quot;, an ampersand as &amp;.
CAPTURED_ITEM = {
    "title": "<b>삼성전자</b>, &quot;HBM3E 12단 공급 확대&quot;… SK하이닉스와 경쟁 &amp; 협력",
    "originallink": "https://www.hankyung.com/article/2025071412345",
    "link": "https://n.news.naver.com/mnews/article/015/0005151234?sid=101",
    "description": "<b>삼성전자</b>가 14일 &quot;엔비디아 퀄 테스트를 통과했다&quot;고 밝혔다. &lt;HBM&gt; 시장에서...",
    "pubDate": "Mon, 14 Jul 2025 09:31:00 +0900",
}
RATE_LIMITED = {"errorMessage": "Rate limit exceeded. (속도 제한을 초과했습니다.)", "errorCode": "012"}
DAILY_LIMIT = {"errorMessage": "Query limit exceeded.", "errorCode": "010"}
BAD_DISPLAY = {"errorMessage": "Invalid display value (부적절한 display 값입니다.)", "errorCode": "SE02"}
SYSTEM_ERROR = {"errorMessage": "System Error (시스템 에러)", "errorCode": "SE99"}
AUTH_FAILED = {
    "errorMessage": "NID AUTH Result Invalid (1000) : Authentication failed. (인증에 실패했습니다.)",
    "errorCode": "024",
}


def page(items: list[dict[str, str]], *, total: int | None = None, start: int = 1) -> dict[str, Any]:
    return {
        "lastBuildDate": "Mon, 14 Jul 2025 10:00:00 +0900",
        "total": len(items) if total is None else total,
        "start": start,
        "display": len(items),
        "items": items,
    }


class ScriptedNaver:
    """A loopback server answering /v1/search/news.json with queued (status, body) pairs, in order,
    and recording every request's query and headers."""

    def __init__(self) -> None:
        self.answers: deque[tuple[int, Any]] = deque()
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.query), dict(request.headers)))
        status, body = self.answers.popleft() if self.answers else (500, SYSTEM_ERROR)
        return web.json_response(body, status=status)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/search/news.json", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    def __enter__(self) -> ScriptedNaver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def script(self, *answers: tuple[int, Any]) -> None:
        self.answers.extend(answers)


@pytest.fixture
def scripted() -> Iterator[ScriptedNaver]:
    with ScriptedNaver() as server:
        yield server


def client_for(url: str, **kwargs: Any) -> NaverNewsClient:
    kwargs.setdefault("backoff", 0.001)
    kwargs.setdefault("backoff_max", 0.01)
    return NaverNewsClient(url, "test-id", "test-secret", timeout=5, **kwargs)


# -- wire format -----------------------------------------------------------------------------------


def test_items_become_plain_text_and_the_request_follows_the_wire_format(scripted):
    scripted.script((200, page([CAPTURED_ITEM], total=12345)))
    result = client_for(scripted.url).search("삼성전자", display=100, start=1)
    assert (result.total, result.start, result.display) == (12345, 1, 1)
    article = result.items[0]
    assert article.title == '삼성전자, "HBM3E 12단 공급 확대"… SK하이닉스와 경쟁 & 협력'
    assert article.description == '삼성전자가 14일 "엔비디아 퀄 테스트를 통과했다"고 밝혔다. <HBM> 시장에서...'
    assert article.published_at == datetime(2025, 7, 14, 0, 31, tzinfo=UTC)
    assert article.canonical_url == CAPTURED_ITEM["originallink"]
    query, headers = scripted.requests[0]
    assert query == {"query": "삼성전자", "display": "100", "start": "1", "sort": "date"}
    assert (headers["X-Naver-Client-Id"], headers["X-Naver-Client-Secret"]) == ("test-id", "test-secret")


def test_clean_text_drops_tags_before_decoding_entities():
    assert clean_text("a &lt;b&gt; <b>c</b>  &amp;\n d") == "a <b> c & d"


def test_an_item_without_originallink_is_identified_by_its_link(scripted):
    scripted.script((200, page([{**CAPTURED_ITEM, "originallink": ""}])))
    assert client_for(scripted.url).search("삼성전자").items[0].canonical_url == CAPTURED_ITEM["link"]


def test_pages_walk_start_until_total_and_keep_cross_page_duplicates(scripted):
    first = {**CAPTURED_ITEM, "originallink": "https://press.example/1", "link": "https://press.example/1"}
    second = {**CAPTURED_ITEM, "originallink": "https://press.example/2", "link": "https://press.example/2"}
    # The same article again on page 2, reached through Naver's own link (the real API does this).
    again = {
        **first,
        "link": "https://n.news.naver.com/mnews/article/001/0000000001",
        "pubDate": "Mon, 14 Jul 2025 09:30:00 +0900",
    }
    scripted.script((200, page([first, second], total=3)), (200, page([again], total=3, start=3)))
    pages = list(client_for(scripted.url).pages("삼성전자", display=2))
    assert [r[0]["start"] for r in scripted.requests] == ["1", "3"]
    links = [a.link for p in pages for a in p.items]
    assert len(links) == 3 and len({a.canonical_url for p in pages for a in p.items}) == 2


# -- errors ----------------------------------------------------------------------------------------


def test_se_error_is_a_bad_request_and_is_not_retried(scripted):
    scripted.script((400, BAD_DISPLAY))
    with pytest.raises(NaverBadRequest) as caught:
        client_for(scripted.url).search("삼성전자")
    assert (caught.value.code, caught.value.status) == ("SE02", 400)
    assert len(scripted.requests) == 1


def test_bad_paging_is_refused_before_any_call(scripted):
    client = client_for(scripted.url)
    for kwargs in ({"display": 101}, {"display": 0}, {"start": 1001}):
        with pytest.raises(NaverBadRequest):
            client.search("삼성전자", **kwargs)
    with pytest.raises(NaverBadRequest):
        client.search("  ")
    assert scripted.requests == []


def test_auth_failure_is_an_auth_error(scripted):
    scripted.script((401, AUTH_FAILED))
    with pytest.raises(NaverAuthError) as caught:
        client_for(scripted.url).search("삼성전자")
    assert caught.value.code == "024" and len(scripted.requests) == 1


def test_rate_limit_then_success_is_absorbed_by_back_off(scripted):
    scripted.script((429, RATE_LIMITED), (429, RATE_LIMITED), (200, page([CAPTURED_ITEM])))
    client = client_for(scripted.url)
    assert len(client.search("삼성전자").items) == 1
    assert client.rate_limited_retries == 2 and len(scripted.requests) == 3


def test_system_error_is_retried_then_surfaced(scripted):
    scripted.script(*[(500, SYSTEM_ERROR)] * 3)
    with pytest.raises(NaverUnavailable) as caught:
        client_for(scripted.url, max_attempts=3).search("삼성전자")
    assert caught.value.code == "SE99" and len(scripted.requests) == 3


def test_an_answer_that_is_not_the_format_is_a_protocol_error(scripted):
    scripted.script((200, {"items": [{"title": "x", "link": "https://a.example", "pubDate": "yesterday"}]}))
    with pytest.raises(NaverProtocolError):
        client_for(scripted.url).search("삼성전자")


def test_an_unreachable_server_is_unavailable():
    client = NaverNewsClient(
        f"http://127.0.0.1:{free_port()}", "id", "secret", timeout=2, max_attempts=2, backoff=0.001
    )
    with pytest.raises(NaverUnavailable):
        client.search("삼성전자")
    assert client.calls == 2


# -- the daily quota (Postgres) --------------------------------------------------------------------


def test_the_daily_quota_refuses_calls_past_the_limit_without_calling(database, scripted):
    quota = DailyQuota(f"test-{os.urandom(4).hex()}", limit=2)
    scripted.script(*[(200, page([CAPTURED_ITEM]))] * 3)
    client = client_for(scripted.url, quota=quota)
    client.search("삼성전자")
    client.search("삼성전자")
    with pytest.raises(NaverQuotaExceeded):
        client.search("삼성전자")
    assert len(scripted.requests) == 2 and quota.used() == 2


def test_retries_count_against_the_quota(database, scripted):
    quota = DailyQuota(f"test-{os.urandom(4).hex()}", limit=10)
    scripted.script((429, RATE_LIMITED), (200, page([CAPTURED_ITEM])))
    client_for(scripted.url, quota=quota).search("삼성전자")
    assert quota.used() == 2


def test_naver_daily_limit_spends_the_quota_for_every_worker(database, scripted):
    quota = DailyQuota(f"test-{os.urandom(4).hex()}", limit=50)
    scripted.script((429, DAILY_LIMIT), (200, page([CAPTURED_ITEM])))
    with pytest.raises(NaverQuotaExceeded) as caught:
        client_for(scripted.url, quota=quota).search("삼성전자")
    assert caught.value.code == "010" and len(scripted.requests) == 1  # not retried
    other_worker = client_for(scripted.url, quota=DailyQuota(quota.app, limit=50))
    with pytest.raises(NaverQuotaExceeded):
        other_worker.search("삼성전자")
    assert len(scripted.requests) == 1


def test_quota_of_one_application_does_not_spend_another(database):
    first, second = DailyQuota(f"test-{os.urandom(4).hex()}", 1), DailyQuota(f"test-{os.urandom(4).hex()}", 1)
    first.take()
    with pytest.raises(NaverQuotaExceeded):
        first.take()
    assert second.take() == 1


# -- settings --------------------------------------------------------------------------------------


def test_the_real_api_without_keys_is_a_configuration_error():
    with environment(NAVER_API_URL="https://openapi.naver.com", NAVER_CLIENT_ID=None, NAVER_CLIENT_SECRET=None):
        with pytest.raises(NaverAuthError):
            NaverNewsClient.from_settings()


def test_a_stand_in_without_keys_gets_placeholder_credentials(database):
    with (
        NaverStandInThread() as standin,
        environment(
            NAVER_API_URL=standin.url, NAVER_CLIENT_ID=None, NAVER_CLIENT_SECRET=None, NAVER_DAILY_QUOTA="1000"
        ),
    ):
        client = NaverNewsClient.from_settings()
        assert client.quota is not None and client.quota.limit == 1000
        assert client.search("삼성전자", display=5).items
        assert client._client_id == STAND_IN_CLIENT_ID


# -- against the stand-in --------------------------------------------------------------------------


def test_client_against_the_stand_in_reads_clean_simulated_news():
    with NaverStandInThread() as standin:
        client = client_for(standin.url)
        result = client.search("삼성전자", display=20)
        assert result.total >= 20 and len(result.items) == 20
        assert all("<b>" not in a.title and "&quot;" not in a.title for a in result.items)
        assert any('"' in a.title for a in client.search("삼성전자", display=100).items)  # &quot; decoded
        assert all(a.title.startswith("[모의]") for a in result.items)
        dates = [a.published_at for a in result.items]
        assert dates == sorted(dates, reverse=True)


def test_client_against_the_stand_in_rides_out_a_429_and_reports_an_se_error():
    with NaverStandInThread() as standin:
        standin.fail_next(429, "012")
        client = client_for(standin.url)
        assert client.search("삼성전자", display=5).items and client.rate_limited_retries == 1
        standin.fail_next(500, "SE99", times=2)
        assert client.search("삼성전자", display=5).items
        standin.fail_next(400, "SE01")
        with pytest.raises(NaverBadRequest) as caught:
            client.search("삼성전자", display=5)
        assert caught.value.code == "SE01"
        with pytest.raises(NaverAuthError):
            NaverNewsClient(standin.url, "", "", timeout=5).search("삼성전자")
