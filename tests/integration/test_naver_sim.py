"""The Naver stand-in speaks Naver's wire format, labels everything simulated, and explains the
KIS simulator's surging themes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from kstock.companies.reference import load_companies
from kstock.market.calendar import KST
from kstock_local.kis_sim.market import Market
from kstock_local.kis_sim.themes import THEMES, themes_of
from kstock_local.naver_sim import NaverStandIn, NaverStandInThread
from kstock_local.naver_sim.content import Newsroom

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=KST)
HEADERS = {"X-Naver-Client-Id": "id", "X-Naver-Client-Secret": "secret"}
RFC822_KST = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d \+0900$"
)
NAMES = {c.symbol: c.name for c in load_companies()}


@pytest.fixture(scope="module")
def standin() -> Iterator[NaverStandIn]:
    with NaverStandInThread(NaverStandIn(clock=lambda: NOON)) as running:
        yield running


def get(
    standin: NaverStandIn, path: str = "/v1/search/news.json", headers: dict[str, str] | None = HEADERS, **params: Any
) -> requests.Response:
    return requests.get(standin.url + path, params=params, headers=headers, timeout=10)


def test_answer_shape_paging_and_dates(standin):
    first = get(standin, query="삼성전자", display=10, start=1, sort="date")
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("application/json")
    body = first.json()
    assert set(body) == {"lastBuildDate", "total", "start", "display", "items"}
    assert (body["start"], body["display"]) == (1, 10) and body["total"] > 20
    assert all(set(item) == {"title", "originallink", "link", "description", "pubDate"} for item in body["items"])
    assert all(RFC822_KST.match(item["pubDate"]) for item in body["items"])
    whole = get(standin, query="삼성전자", display=20, start=1, sort="date").json()["items"]
    second = get(standin, query="삼성전자", display=10, start=11, sort="date").json()["items"]
    assert body["items"] + second == whole  # start/display slice one list, newest first
    stamps = [datetime.strptime(i["pubDate"], "%a, %d %b %Y %H:%M:%S %z") for i in whole]
    assert stamps == sorted(stamps, reverse=True) and max(stamps) <= NOON
    assert "삼성전자" in first.text  # raw UTF-8, not \\u escapes, like Naver


def test_titles_carry_highlights_and_entities_like_naver(standin):
    items = get(standin, query="삼성전자", display=100, sort="date").json()["items"]
    assert all("<b>삼성전자</b>" in i["title"] + i["description"] for i in items)
    assert any("&quot;" in i["title"] for i in items)


def test_everything_is_labelled_simulated(standin):
    for query in ("삼성전자", "2차전지", "반도체 제조업", "금리"):
        for item in get(standin, query=query, display=100, sort="date").json()["items"]:
            assert item["title"].startswith("[모의]")
            assert "실제 보도가 아니다" in item["description"]
            for url in (item["originallink"], item["link"]):
                assert re.match(r"^https://([a-z.]+\.)?simulated\.kstock\.local/", url), url


def test_the_same_article_comes_back_under_another_link(standin):
    items = [
        i
        for start in (1, 101)
        for i in get(standin, query="SK하이닉스", display=100, start=start, sort="date").json()["items"]
    ]
    by_original = Counter(i["originallink"] for i in items)
    twins = [url for url, n in by_original.items() if n > 1]
    assert twins
    assert all(len({i["link"] for i in items if i["originallink"] == url}) == 2 for url in twins)


def test_errors_are_naver_bodies(standin):
    cases = [
        (dict(headers=None, query="삼성전자"), 401, "024"),
        (dict(headers={"X-Naver-Client-Id": "id"}, query="삼성전자"), 401, "024"),
        (dict(query=""), 400, "SE01"),
        (dict(query="삼성전자", display=101), 400, "SE02"),
        (dict(query="삼성전자", display="ten"), 400, "SE02"),
        (dict(query="삼성전자", start=1001), 400, "SE03"),
        (dict(query="삼성전자", sort="newest"), 400, "SE04"),
        (dict(path="/v1/search/nothing.json", query="삼성전자"), 404, "SE05"),
    ]
    for kwargs, status, code in cases:
        answer = get(standin, **kwargs)
        assert (answer.status_code, answer.json()["errorCode"]) == (status, code), kwargs
        assert answer.json()["errorMessage"]


def test_configured_credentials_and_the_daily_limit():
    with NaverStandInThread(NaverStandIn(client_id="id", client_secret="secret", daily_limit=2)) as strict:
        wrong = get(strict, headers={"X-Naver-Client-Id": "id", "X-Naver-Client-Secret": "nope"}, query="삼성전자")
        assert (wrong.status_code, wrong.json()["errorCode"]) == (401, "024")
        assert [get(strict, query="삼성전자").status_code for _ in range(2)] == [200, 200]
        spent = get(strict, query="삼성전자")
        assert (spent.status_code, spent.json()["errorCode"]) == (429, "010")


def test_reproducible_from_seed_and_date_and_news_appears_during_the_day():
    morning, evening = NOON.replace(hour=8), NOON.replace(hour=21)
    a, b, other = Newsroom(seed=1), Newsroom(seed=1), Newsroom(seed=2)
    assert a.articles("카카오", evening) == b.articles("카카오", evening)
    assert a.articles("카카오", evening) != other.articles("카카오", evening)
    early, late = a.articles("카카오", morning), a.articles("카카오", evening)
    assert len(late) > len(early) and set(early) < set(late)  # old news stays, new news on top
    assert a.articles("카카오", evening + timedelta(days=1))[-1].published_at.date() > late[-1].published_at.date()


def test_every_theme_member_has_headlines_that_name_its_theme():
    newsroom = Newsroom()
    for theme in THEMES:
        for symbol in theme.symbols:
            text = " ".join(a.title + a.description for a in newsroom.articles(NAMES[symbol], NOON))
            assert theme.name in text, (theme.name, NAMES[symbol])
        theme_news = newsroom.articles(theme.name, NOON)
        assert theme_news and all(theme.name in a.title + a.description for a in theme_news)


def test_the_simulators_surgers_are_one_theme_and_the_news_names_it():
    market = Market(seed=3, trades_per_second=50, regime_seconds=5, clock=lambda: NOON)
    newsroom = Newsroom(seed=3)
    seen = set()
    for _ in range(4):
        market._new_regime()
        theme = market.hot_theme
        assert theme is not None
        surging = {s.symbol for s in market._surging}
        assert len(surging) >= 2 and surging <= set(theme.symbols)
        for symbol in surging:
            assert theme in themes_of(symbol)
            assert any(theme.name in a.title for a in newsroom.articles(NAMES[symbol], NOON))
        seen.add(theme.name)
    assert len(seen) >= 2  # the hot theme rotates
