"""Theme sync's pipeline on the session database: rank watch (debounce, re-entry, retries, marks,
lifecycle), the classification worker (LLM through the Gemini stand-in, rules, 미분류, idempotent
redelivery, name matching), and the theme_update it publishes on Redis."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from support.envs import environment
from support.gemini_standin import GeminiStandIn, gemini_env, make_client
from support.waiting import wait_for

from kstock import cache, db, keys
from kstock.market.calendar import KST
from kstock.themes import UNCLASSIFIED, metrics
from kstock.themes.rankwatch import ClassifyRequest, InvalidThemeRequest, Ranked, top_of
from kstock.themes.service import classify_entrant, poll

BATTERY = ("373220", "006400")  # LG에너지솔루션, 삼성SDI
QUIET = "005380"  # 현대차: headlines that name no theme
URL_PREFIX = "https://theme-sync.simulated.kstock.local/"
_days = itertools.count()


@pytest.fixture
def day(database) -> Iterator[date]:
    """Each test its own far-future KST day (a Wednesday: the previous day is a trading day)."""
    chosen = date(2095, 3, 2) + timedelta(weeks=next(_days))
    forget()
    with environment(THEME_SYNC_DEBOUNCE_SECONDS="180", THEME_RETRY_SECONDS="600", THEME_NEWS_MAX_AGE_SECONDS="1800"):
        yield chosen
    forget()


def forget() -> None:
    with db.transaction() as conn:
        for table in ("theme_sightings", "theme_classifications", "theme_metrics", "theme_members", "themes"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM news WHERE url LIKE %s", (URL_PREFIX + "%",))
        conn.execute(
            "DELETE FROM data_refreshes WHERE kind = 'news' AND company_id IN "
            "(SELECT id FROM companies WHERE symbol = ANY(%s))",
            ([*BATTERY, QUIET],),
        )
    # no streamed price of another test's streamer: members show what this test's ranking says
    cache.client().delete(keys.THEME_TOP_30, *(keys.latest_price(s) for s in [*BATTERY, QUIET]))


def at(day: date, seconds: float) -> datetime:
    """``seconds`` after 10:00 KST on ``day``."""
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC) + timedelta(seconds=seconds)


def row(symbol: str, change: float = 10.0) -> Ranked:
    return Ranked(symbol, symbol, 10_000, change, 1_000, 10_000_000)


class Queue:
    """Where rank watch sends its messages in these tests (the SQS path has its own test)."""

    def __init__(self) -> None:
        self.sent: list[ClassifyRequest] = []

    def __call__(self, requests: Any) -> int:
        self.sent += list(requests)
        return len(requests)

    def symbols(self) -> list[str]:
        return [r.symbol for r in self.sent]


def company_id(symbol: str) -> int:
    with db.read() as conn:
        return int(conn.execute("SELECT id FROM companies WHERE symbol = %s", (symbol,)).fetchone()["id"])


def add_news(symbol: str, *titles: str, fetched: datetime) -> list[int]:
    """Articles about the company, and its news marked fresh (no on-demand fetch)."""
    ids = []
    with db.transaction() as conn:
        for title in titles:
            url = f"{URL_PREFIX}{symbol}/{abs(hash((title, fetched)))}"
            news_id = conn.execute(
                "INSERT INTO news (url, title, source, published_at, fetched_at) VALUES (%s, %s, 'simulated', %s, %s) "
                "RETURNING id",
                (url, title, fetched - timedelta(minutes=5), fetched),
            ).fetchone()["id"]
            conn.execute(
                "INSERT INTO news_companies (news_id, company_id) VALUES (%s, %s)", (news_id, company_id(symbol))
            )
            ids.append(news_id)
        conn.execute(
            "INSERT INTO data_refreshes (company_id, kind, refreshed_at) VALUES (%s, 'news', %s) "
            "ON CONFLICT (company_id, kind) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at",
            (company_id(symbol), fetched),
        )
    return ids


def battery_news(symbol: str, fetched: datetime) -> list[int]:
    return add_news(
        symbol,
        "2차전지 관련주 강세, 양극재 수요 회복 기대감",
        "전기차 배터리 수주 확대에 2차전지 테마 급등",
        "리튬 가격 반등에 배터리 소재 업체 주목",
        fetched=fetched,
    )


def no_fetch(company: int, name: str) -> None:
    raise AssertionError(f"news of {name} were fresh: no fetch expected")


def counters(day: date) -> dict[str, int]:
    with db.read() as conn:
        return metrics.of_day(conn, day)


@pytest.fixture
def standin() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as server:
        yield server


def llm_answer(theme: str, ids: list[int], *, is_new: bool = False) -> dict[str, Any]:
    return {
        "theme": theme,
        "isNew": is_new,
        "confidence": 0.9,
        "reason": "배터리 수주 헤드라인이 근거입니다.",
        "headlineIds": ids,
    }


# -- rank watch -------------------------------------------------------------------------------------------------


def test_the_top_30_is_the_biggest_risers_once_each():
    rows = [row(f"{n:06d}", change=n / 10) for n in range(1, 50)] + [row("000049", 0.1), row("999999", -3.0)]
    top = top_of(rows)
    assert len(top) == 30 and top[0].symbol == "000049" and top[0].change_percent == 4.9
    assert [r.change_percent for r in top] == sorted((r.change_percent for r in top), reverse=True)
    assert "999999" not in {r.symbol for r in top}


def test_a_new_entrant_is_queued_only_after_the_debounce(day):
    queue = Queue()
    for second in (0, 60, 120):
        poll([row(BATTERY[0])], now=at(day, second), send=queue)
    assert queue.sent == []
    poll([row(BATTERY[0])], now=at(day, 180), send=queue)
    assert queue.sent == [ClassifyRequest(BATTERY[0], day, 0)]
    poll([row(BATTERY[0])], now=at(day, 240), send=queue)  # queued once, not every minute
    assert len(queue.sent) == 1
    assert cache.client().smembers(keys.THEME_TOP_30) == {BATTERY[0]}


def test_a_flicker_does_not_classify(day):
    queue = Queue()
    poll([row(BATTERY[0])], now=at(day, 0), send=queue)
    poll([row(BATTERY[0])], now=at(day, 60), send=queue)
    poll([], now=at(day, 120), send=queue)  # out before the debounce: the wait starts again
    poll([row(BATTERY[0])], now=at(day, 180), send=queue)
    poll([row(BATTERY[0])], now=at(day, 300), send=queue)
    assert queue.sent == []
    poll([], now=at(day, 330), send=queue)
    assert queue.sent == []
    got = counters(day)
    assert (got[metrics.RANKING_POLLS], got[metrics.ENTRANTS_SEEN], got[metrics.DEBOUNCED_AWAY]) == (6, 1, 2)


def test_a_redis_restart_does_not_classify_everything_again(day):
    queue = Queue()
    for second in (0, 200):
        poll([row(BATTERY[0])], now=at(day, second), send=queue)
    assert len(queue.sent) == 1
    cache.client().delete(keys.THEME_TOP_30)  # Redis lost the set
    result = poll([row(BATTERY[0])], now=at(day, 260), send=queue)
    assert result.entered == [BATTERY[0]]  # the diff thinks it is new...
    assert len(queue.sent) == 1  # ...Postgres knows it was queued today


# -- classification ---------------------------------------------------------------------------------------------


def test_reentry_costs_no_second_llm_call_unless_news_arrived(day, standin):
    symbol = BATTERY[0]
    ids = battery_news(symbol, at(day, -600))
    queue = Queue()
    with gemini_env(standin):
        client = make_client(day)
        standin.answer(llm_answer("2차전지", ids[:2]))
        for second in (0, 180):
            poll([row(symbol)], now=at(day, second), send=queue)
        [request] = queue.sent
        outcome = classify_entrant(request, llm=client, fetch_news=no_fetch, now=at(day, 200))
        assert (outcome.classification.theme, outcome.classification.classifier) == ("2차전지", "llm")
        assert len(standin.requests) == 1

        poll([], now=at(day, 600), send=queue)  # falls out, comes back, stays long enough
        for second in (900, 1200):
            poll([row(symbol)], now=at(day, second), send=queue)
        assert len(queue.sent) == 1 and len(standin.requests) == 1

        poll([], now=at(day, 1300), send=queue)
        battery_news(symbol, at(day, 1350))  # new headlines since the analysis
        for second in (1400, 1600):
            poll([row(symbol)], now=at(day, second), send=queue)
        assert queue.sent[1:] == [ClassifyRequest(symbol, day, 1)]
        client.close()
    assert counters(day)[metrics.LLM_CALLS] == 1


def test_a_redelivered_message_never_calls_the_llm_twice(day, standin):
    symbol = BATTERY[1]
    ids = battery_news(symbol, at(day, -600))
    request = ClassifyRequest(symbol, day, 0)
    with gemini_env(standin):
        client = make_client(day)
        standin.answer(llm_answer("2차전지", ids[:1]))
        first = classify_entrant(request, llm=client, fetch_news=no_fetch, now=at(day, 10))
        second = classify_entrant(request, llm=client, fetch_news=no_fetch, now=at(day, 70))
        client.close()
    assert len(standin.requests) == 1
    assert (first.replayed, second.replayed) == (False, True) and first.key == second.key
    assert second.classification == first.classification.__class__(
        **{
            **{
                f: getattr(first.classification, f)
                for f in (
                    "theme",
                    "is_new",
                    "classifier",
                    "confidence",
                    "reason",
                    "headline_ids",
                    "retry",
                    "fallback",
                    "keywords",
                )
            }
        }
    )
    got = counters(day)
    assert (got[metrics.LLM_CALLS], got[metrics.CLASSIFIED], got[metrics.REPLAYED]) == (1, 1, 1)
    assert got[metrics.TOKENS] > 0
    with db.read() as conn:
        assert conn.execute("SELECT count(*) AS n FROM theme_members").fetchone()["n"] == 1


def test_llm_failure_falls_back_to_rules_then_to_unclassified_and_retries(day, standin):
    battery_news(BATTERY[0], at(day, -600))
    add_news(QUIET, "현대차 주주총회 개최", "현대차 52주 신고가 경신", fetched=at(day, -600))
    queue = Queue()
    with gemini_env(standin, GEMINI_MAX_ATTEMPTS="1"):
        client = make_client(day)
        for second in (0, 180):
            poll([row(BATTERY[0]), row(QUIET, 9.0)], now=at(day, second), send=queue)
        assert sorted(queue.symbols()) == sorted([BATTERY[0], QUIET])
        standin.fail(503)
        standin.fail(503)
        ruled = classify_entrant(queue.sent[0], llm=client, fetch_news=no_fetch, now=at(day, 200))
        unsure = classify_entrant(queue.sent[1], llm=client, fetch_news=no_fetch, now=at(day, 210))
        client.close()
    assert (ruled.request.symbol, ruled.classification.theme, ruled.classification.classifier) == (
        BATTERY[0],
        "2차전지",
        "rules",
    )
    assert ruled.classification.fallback is not None and ruled.classification.fallback.startswith("LlmUnavailable")
    assert unsure.classification.theme == UNCLASSIFIED and unsure.classification.retry
    [block] = unsure.blocks  # shown at once, as 미분류
    assert block["name"] == UNCLASSIFIED and [m["symbol"] for m in block["members"]] == [QUIET]

    poll([row(BATTERY[0]), row(QUIET, 9.0)], now=at(day, 500), send=queue)
    assert len(queue.sent) == 2  # the retry waits THEME_RETRY_SECONDS
    poll([row(BATTERY[0]), row(QUIET, 9.0)], now=at(day, 820), send=queue)
    assert queue.sent[2:] == [ClassifyRequest(QUIET, day, 1)]
    got = counters(day)
    assert (got[metrics.LLM_CALLS], got[metrics.RULES_FALLBACKS], got[metrics.UNCLASSIFIED]) == (2, 1, 1)


def test_a_classified_stock_leaves_unclassified_and_names_are_matched(day, standin):
    symbol = QUIET
    add_news(symbol, "현대차 주주총회 개최", fetched=at(day, -600))
    first = classify_entrant(ClassifyRequest(symbol, day, 0), use_llm=False, fetch_news=no_fetch, now=at(day, 0))
    assert first.classification.unclassified
    ids = battery_news(symbol, at(day, 100))
    with gemini_env(standin):
        client = make_client(day)
        standin.answer(llm_answer("2차 전지", ids[:1], is_new=True))  # the same theme, spelt apart
        classify_entrant(ClassifyRequest(symbol, day, 1), llm=client, fetch_news=no_fetch, now=at(day, 120))
        other = battery_news(BATTERY[1], at(day, 100))
        standin.answer(llm_answer("이차전지", other[1:2], is_new=True))
        classify_entrant(ClassifyRequest(BATTERY[1], day, 0), llm=client, fetch_news=no_fetch, now=at(day, 130))
        client.close()
    with db.read() as conn:
        themes = conn.execute(
            "SELECT t.name, array_agg(c.symbol ORDER BY c.symbol) AS members FROM themes t "
            "JOIN theme_members m ON m.theme_id = t.id JOIN companies c ON c.id = m.company_id GROUP BY t.name"
        ).fetchall()
    assert [(t["name"], t["members"]) for t in themes] == [("2차전지", sorted([symbol, BATTERY[1]]))]


def test_poison_messages_are_refused():
    for body in (
        ["a"],
        {"symbol": "00!", "day": "2095-01-01"},
        {"symbol": "005930", "day": "someday"},
        {"symbol": "005930", "day": "2095-01-01", "attempt": -1},
    ):
        with pytest.raises(InvalidThemeRequest):
            ClassifyRequest.parse(body)
    assert ClassifyRequest.parse({"symbol": "005930", "day": "2095-01-01"}) == ClassifyRequest(
        "005930", date(2095, 1, 1), 0
    )


# -- store and broadcast ----------------------------------------------------------------------------------------


def test_theme_update_carries_the_changed_block_after_the_commit(day):
    ids = battery_news(BATTERY[0], at(day, -600))
    redis = cache.client()
    pubsub = redis.pubsub()
    pubsub.subscribe(keys.THEME_UPDATES)
    wait_for(lambda: pubsub.get_message(timeout=0.1), 10, "the subscription to be confirmed")
    poll([row(BATTERY[0], 12.5)], now=at(day, 0), send=Queue())
    outcome = classify_entrant(
        ClassifyRequest(BATTERY[0], day, 0), use_llm=False, fetch_news=no_fetch, now=at(day, 200)
    )
    message = wait_for(lambda: pubsub.get_message(timeout=0.5), 10, "a theme_update on themes:updates")
    pubsub.close()
    update = json.loads(message["data"])
    assert update["type"] == "theme_update"
    [block] = update["themes"]
    with db.read() as conn:
        theme_id = conn.execute("SELECT id FROM themes WHERE name = '2차전지'").fetchone()["id"]
    assert (block["themeId"], block["name"]) == (theme_id, "2차전지") == (outcome.theme_ids[0], "2차전지")
    [member] = block["members"]
    assert (member["symbol"], member["name"], member["changePercent"], member["inRanking"]) == (
        BATTERY[0],
        "LG에너지솔루션",
        12.5,
        True,
    )
    assert member["classifier"] == "rules" and set(ids) >= set(outcome.classification.headline_ids)


def test_a_member_that_left_the_ranking_stays_marked_and_idle_themes_turn_inactive(day):
    battery_news(BATTERY[0], at(day, -600))
    poll([row(BATTERY[0])], now=at(day, 0), send=Queue())
    classify_entrant(ClassifyRequest(BATTERY[0], day, 0), use_llm=False, fetch_news=no_fetch, now=at(day, 200))
    left = poll([], now=at(day, 300), send=Queue())
    assert left.marked_themes  # its theme was broadcast with the mark
    with db.read() as conn:
        from kstock.themes.store import list_themes

        [theme] = list_themes(conn, at(day, 310))
        assert theme["members"][0]["inRanking"] is False  # visible today, marked
        assert list_themes(conn, at(day, 86_400)) == []  # the next day it is gone from the map
    poll([], now=at(day, 86_400), send=Queue())  # the next day: yesterday it was in the ranking
    with db.read() as conn:
        assert conn.execute("SELECT is_active FROM themes").fetchone()["is_active"] is True
    result = poll([], now=at(day, 2 * 86_400), send=Queue())  # a whole trading day without a member
    assert result.deactivated
    with db.read() as conn:
        assert conn.execute("SELECT is_active FROM themes").fetchone()["is_active"] is False


def test_active_themes_are_capped(day):
    with db.transaction() as conn:
        for n in range(5):
            conn.execute("INSERT INTO themes (name, last_in_top_at) VALUES (%s, %s)", (f"테마{n}", at(day, n)))
    battery_news(BATTERY[0], at(day, -600))
    with environment(THEME_ACTIVE_LIMIT="3"):
        outcome = classify_entrant(
            ClassifyRequest(BATTERY[0], day, 0), use_llm=False, fetch_news=no_fetch, now=at(day, 200)
        )
    with db.read() as conn:
        active = [r["name"] for r in conn.execute("SELECT name FROM themes WHERE is_active ORDER BY name")]
    assert active == sorted(["2차전지", "테마4", "테마3"])  # the one just joined stays, the stalest go
    assert {b["name"] for b in outcome.blocks} >= {"테마0", "테마1", "테마2"}  # broadcast as inactive


def test_the_heat_map_answer_is_cached_and_dropped_on_theme_update(day, api):
    battery_news(BATTERY[0], at(day, -600))
    battery_news(BATTERY[1], at(day, -600))
    poll([row(BATTERY[0], 12.0), row(BATTERY[1], 8.0)], now=at(day, 0), send=Queue())
    classify_entrant(ClassifyRequest(BATTERY[0], day, 0), use_llm=False, fetch_news=no_fetch)
    status, body, _ = api("GET", "/themes")
    [theme] = body["data"]
    assert status == 200 and [m["symbol"] for m in theme["members"]] == [BATTERY[0]]
    with db.transaction() as conn:  # a change no theme_update announced: the cached answer stays
        conn.execute("UPDATE themes SET name = '이름만 바뀜'")
    assert api("GET", "/themes")[1]["data"][0]["name"] == "2차전지"
    classify_entrant(ClassifyRequest(BATTERY[1], day, 0), use_llm=False, fetch_news=no_fetch)
    status, body, _ = api("GET", "/themes")  # the theme_update dropped the cache
    [theme] = body["data"]
    assert sorted(m["symbol"] for m in theme["members"]) == sorted(BATTERY)
    assert theme["weight"] == 2 * 10_000_000 and theme["averageChangePercent"] is not None
    status, detail, _ = api("GET", f"/themes/{theme['themeId']}")
    assert status == 200 and all(m["headlines"] and m["reason"] for m in detail["data"]["members"])
    assert {h["source"] for m in detail["data"]["members"] for h in m["headlines"]} == {"simulated"}
    status, cost, _ = api("GET", "/themes/metrics")
    assert status == 200 and set(cost["data"]) >= {"day", "rankingPolls", "llmCalls", "tokens", "naiveLlmCalls"}
    assert cost["data"]["day"] == datetime.now(KST).date().isoformat()  # today's counters (this test's day is 2095)
