"""Contract tests of kstock.llm: the real google-genai client against a local server speaking
Gemini's REST wire format (tests/support/gemini_standin.py), over a real socket, with the call log and
the budget in the session's Postgres."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, Field
from support.envs import environment
from support.gemini_standin import DEFAULT_KEY, MODEL_VERSION, GeminiStandIn, Reply, gemini_env, make_client

from kstock import db, llm
from kstock.config import get_settings
from kstock.llm import (
    GeminiClient,
    LlmBlocked,
    LlmBudgetExceeded,
    LlmIncomplete,
    LlmInvalidAnswer,
    LlmRateLimited,
    LlmRejected,
    LlmTimeout,
    LlmTruncated,
    LlmUnavailable,
    usage_by_feature,
    usage_today,
)
from kstock.llm.budget import calls_reserved, reserve_call
from kstock.llm.calls import kst_day


class Member(BaseModel):
    symbol: str = Field(description="six-digit KRX code")
    reason: str


class ThemeAnswer(BaseModel):
    """What a theme-classification prompt expects back."""

    theme: str
    confidence: float
    members: list[Member]


GOOD = ThemeAnswer(
    theme="2차전지",
    confidence=0.82,
    members=[Member(symbol="373220", reason="배터리 셀 증설"), Member(symbol="006400", reason="전고체 기대")],
)

# Each test spends its own KST days (far from today, ten apart so a test may use the next ones),
# so budgets and usage never mix between tests.
_days = itertools.count()


@pytest.fixture
def day() -> date:
    return date(2091, 1, 1) + timedelta(days=10 * next(_days))


@pytest.fixture
def standin() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as server:
        yield server


@pytest.fixture
def client(database: str, standin: GeminiStandIn, day: date) -> Iterator[GeminiClient]:
    with gemini_env(standin):
        gemini = make_client(day)
        try:
            yield gemini
        finally:
            gemini.close()


def rows(day: date) -> list[dict[str, Any]]:
    with db.read() as conn:
        return list(conn.execute("SELECT * FROM llm_calls WHERE kst_day = %s ORDER BY id", (day,)).fetchall())


def ask(client: GeminiClient, feature: str = "theme_classify") -> Any:
    return client.generate(feature, "급등 종목 373220, 006400의 공통 테마는?", ThemeAnswer, system="JSON으로만 답하라.")


# -- a valid answer --------------------------------------------------------------------------------------


def test_valid_answer_is_validated_into_the_model_and_its_tokens_recorded(client, standin, day):
    standin.answer(GOOD, thinking_tokens=40)

    result = ask(client)

    assert result.value == GOOD
    assert result.model == MODEL_VERSION
    assert result.attempts == 1
    _, body = standin.sent[-1]
    usage = body["usageMetadata"]
    assert (result.usage.prompt, result.usage.answer, result.usage.thinking, result.usage.total) == (
        usage["promptTokenCount"],
        usage["candidatesTokenCount"],
        40,
        usage["totalTokenCount"],
    )
    [row] = rows(day)
    assert row["feature"] == "theme_classify" and row["outcome"] == "ok" and row["error"] is None
    assert row["model"] == get_settings().gemini_model and row["model_version"] == MODEL_VERSION
    assert (row["prompt_tokens"], row["answer_tokens"], row["thinking_tokens"], row["total_tokens"]) == (
        usage["promptTokenCount"],
        usage["candidatesTokenCount"],
        40,
        usage["totalTokenCount"],
    )
    assert row["attempts"] == 1 and row["latency_ms"] >= 0
    assert row["latency_ms"] == result.latency_ms


def test_request_follows_the_wire_format(client, standin):
    standin.answer(GOOD)

    ask(client)

    [request] = standin.requests
    assert request.path == f"/v1beta/models/{get_settings().gemini_model}:generateContent"
    assert request.headers["x-goog-api-key"] == DEFAULT_KEY
    # google-genai's timeout is in milliseconds; it tells the server the deadline in whole seconds.
    assert request.headers["x-server-timeout"] == "30"
    assert request.prompt == "급등 종목 373220, 006400의 공통 테마는?"
    assert request.body["contents"][0]["role"] == "user"
    assert request.system == "JSON으로만 답하라."
    config = request.generation_config
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    assert schema["type"] == "OBJECT"
    assert set(schema["properties"]) == {"theme", "confidence", "members"}
    assert set(schema["required"]) == {"theme", "confidence", "members"}
    member = schema["properties"]["members"]["items"]
    assert member["type"] == "OBJECT" and set(member["properties"]) == {"symbol", "reason"}


# -- answers that cannot be used -------------------------------------------------------------------------


def test_malformed_json_is_an_invalid_answer_and_still_logged_with_tokens(client, standin, day):
    standin.answer_text('{"theme": "2차전지", "confidence": 0.8, "members": [')

    with pytest.raises(LlmInvalidAnswer, match="not valid JSON"):
        ask(client)

    assert len(standin.requests) == 1  # a bad answer is not retried
    [row] = rows(day)
    assert row["outcome"] == "invalid_answer" and "not valid JSON" in row["error"]
    assert row["total_tokens"] == standin.sent[-1][1]["usageMetadata"]["totalTokenCount"]


def test_json_of_the_wrong_shape_is_an_invalid_answer_naming_the_field(client, standin, day):
    standin.answer({"theme": "2차전지", "confidence": "high", "members": []})

    with pytest.raises(LlmInvalidAnswer, match=r"does not match ThemeAnswer: confidence"):
        ask(client)

    assert rows(day)[0]["outcome"] == "invalid_answer"


@pytest.mark.parametrize(
    ("reason", "text", "error", "outcome"),
    [
        ("SAFETY", "", LlmBlocked, "blocked"),
        ("RECITATION", "", LlmBlocked, "blocked"),
        ("MAX_TOKENS", '{"theme": "2차전지", "confid', LlmTruncated, "truncated"),
        ("OTHER", "", LlmIncomplete, "incomplete"),
    ],
)
def test_a_finish_other_than_stop_is_a_clear_error(client, standin, day, reason, text, error, outcome):
    standin.finish(reason, text=text)

    with pytest.raises(error) as raised:
        ask(client)

    assert raised.value.reason == reason
    assert len(standin.requests) == 1
    [row] = rows(day)
    assert row["outcome"] == outcome and reason in row["error"]
    assert row["prompt_tokens"] == standin.sent[-1][1]["usageMetadata"]["promptTokenCount"]


def test_a_blocked_prompt_is_blocked(client, standin, day):
    standin.block_prompt("PROHIBITED_CONTENT")

    with pytest.raises(LlmBlocked, match="prompt blocked") as raised:
        ask(client)

    assert raised.value.reason == "PROHIBITED_CONTENT"
    [row] = rows(day)
    assert row["outcome"] == "blocked" and row["answer_tokens"] is None
    assert row["prompt_tokens"] == standin.sent[-1][1]["usageMetadata"]["promptTokenCount"]


# -- retries ---------------------------------------------------------------------------------------------


def test_429_then_success_is_one_ok_call_of_two_requests(client, standin, day):
    standin.fail(429, retry_delay="0s")
    standin.answer(GOOD)

    result = ask(client)

    assert result.value == GOOD and result.attempts == 2
    first, second = standin.requests
    assert first.body == second.body
    assert [status for status, _ in standin.sent] == [429, 200]
    [row] = rows(day)
    assert row["outcome"] == "ok" and row["attempts"] == 2


def test_503_is_retried(client, standin, day):
    standin.fail(503)
    standin.fail(503)
    standin.answer(GOOD)

    assert ask(client).attempts == 3
    assert rows(day)[0]["outcome"] == "ok"


def test_429_on_every_attempt_is_rate_limited_after_the_configured_attempts(client, standin, day):
    for _ in range(3):
        standin.fail(429)

    with pytest.raises(LlmRateLimited, match="RESOURCE_EXHAUSTED") as raised:
        ask(client)

    assert raised.value.status == 429
    assert len(standin.requests) == 3 and standin.pending == 0
    [row] = rows(day)
    assert row["outcome"] == "rate_limited" and row["attempts"] == 3 and row["total_tokens"] is None


def test_other_4xx_is_rejected_without_a_retry(client, standin, day):
    standin.fail(400, "* GenerateContentRequest.model: unexpected model name format")
    standin.answer(GOOD)  # must never be asked for

    with pytest.raises(LlmRejected, match="INVALID_ARGUMENT") as raised:
        ask(client)

    assert raised.value.status == 400
    assert len(standin.requests) == 1 and standin.pending == 1
    assert rows(day)[0]["outcome"] == "rejected"


def test_a_wrong_key_is_rejected_and_the_key_kept_out_of_the_log(database, standin, day):
    with gemini_env(standin, GOOGLE_API_KEY="not-the-key"):
        gemini = make_client(day)
        with pytest.raises(LlmRejected, match="API key not valid"):
            ask(gemini)
        gemini.close()

    assert len(standin.requests) == 1
    [row] = rows(day)
    assert "not-the-key" not in row["error"]


# -- timeout -----------------------------------------------------------------------------------------------


def test_a_slow_answer_is_a_timeout_and_the_call_does_not_hang(database, standin, day):
    standin.answer(GOOD, delay=120)  # far past the timeout; released when the stand-in stops
    with gemini_env(standin, GEMINI_TIMEOUT_SECONDS="0.5"):
        gemini = make_client(day)
        started = time.monotonic()
        with pytest.raises(LlmTimeout):
            ask(gemini)
        waited = time.monotonic() - started
        gemini.close()

    assert waited < 60  # gave up long before the answer (a generous bound, not a timing budget)
    assert len(standin.requests) == 1  # a timeout is not retried
    assert standin.sent == []  # the answer was never delivered
    [row] = rows(day)
    assert row["outcome"] == "timeout" and row["attempts"] == 1


# -- budget and key ------------------------------------------------------------------------------------------


def test_budget_refuses_the_call_past_it_before_any_request(database, standin, day):
    standin.answer(GOOD)
    standin.answer(GOOD)
    standin.answer(GOOD)
    with gemini_env(standin, LLM_DAILY_CALL_BUDGET="2"):
        gemini = make_client(day)
        ask(gemini)
        ask(gemini, feature="outlook")
        with pytest.raises(LlmBudgetExceeded, match="budget of 2 calls"):
            ask(gemini)
        gemini.close()

    assert len(standin.requests) == 2 and standin.pending == 1
    assert calls_reserved(day) == 2
    outcomes = [(row["outcome"], row["attempts"]) for row in rows(day)]
    assert outcomes == [("ok", 1), ("ok", 1), ("budget_exceeded", 0)]


def test_the_budget_is_per_kst_day(database, standin, day):
    standin.answer(GOOD)
    standin.answer(GOOD)
    before_midnight = datetime(day.year, day.month, day.day, 14, 59, tzinfo=UTC)  # 23:59 KST
    midnight = datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)  # 00:00 KST, the next day
    assert (kst_day(before_midnight), kst_day(midnight)) == (day, day + timedelta(days=1))
    moments = iter([before_midnight, before_midnight, midnight])
    with gemini_env(standin, LLM_DAILY_CALL_BUDGET="1"):
        gemini = make_client(day, clock=lambda: next(moments))
        ask(gemini)
        with pytest.raises(LlmBudgetExceeded):
            ask(gemini)
        ask(gemini)  # a fresh budget after midnight KST
        gemini.close()

    assert calls_reserved(day) == 1 and calls_reserved(day + timedelta(days=1)) == 1
    assert len(standin.requests) == 2


def test_concurrent_reservations_never_pass_the_budget(database):
    target = date(2099, 12, 31)
    start = threading.Barrier(8)

    def reserve_many(_: int) -> list[int | None]:
        start.wait()
        return [reserve_call(target, 5) for _ in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [count for batch in pool.map(reserve_many, range(8)) for count in batch]

    granted = sorted(count for count in results if count is not None)
    assert granted == [1, 2, 3, 4, 5]
    assert calls_reserved(target) == 5


def test_a_zero_budget_refuses_everything(database, standin, day):
    with gemini_env(standin, LLM_DAILY_CALL_BUDGET="0"):
        gemini = make_client(day)
        with pytest.raises(LlmBudgetExceeded):
            ask(gemini)
        gemini.close()
    assert standin.requests == []
    assert calls_reserved(day) == 0


@pytest.mark.parametrize("key", [None, ""])
def test_no_key_is_unavailable_with_no_request_and_no_budget_spent(database, standin, day, key):
    with gemini_env(standin, GOOGLE_API_KEY=key):
        gemini = make_client(day)
        assert not gemini.available
        with pytest.raises(LlmUnavailable, match="GOOGLE_API_KEY"):
            ask(gemini)

    assert standin.requests == []
    assert calls_reserved(day) == 0 and rows(day) == []


def test_an_unreachable_gemini_is_unavailable(database, day):
    with GeminiStandIn() as gone:
        url = gone.base_url  # a port that was just free and is now closed
    with environment(GOOGLE_API_KEY=DEFAULT_KEY, GEMINI_BASE_URL=url, GEMINI_MAX_ATTEMPTS="2"):
        gemini = make_client(day)
        with pytest.raises(LlmUnavailable, match="unreachable"):
            ask(gemini)
        gemini.close()
    [row] = rows(day)
    assert row["outcome"] == "unavailable" and row["attempts"] == 2


def test_a_body_that_is_not_json_is_unavailable_not_retried(client, standin, day):
    standin.push(Reply(200, "<html><body>proxy login</body></html>"))

    with pytest.raises(LlmUnavailable, match="not JSON"):
        ask(client)

    assert len(standin.requests) == 1
    assert rows(day)[0]["outcome"] == "unavailable"


class Untranslatable(BaseModel):
    weights: dict[str, float]  # additionalProperties: not expressible in Gemini's responseSchema


def test_a_schema_gemini_cannot_express_is_raised_as_a_bug_and_logged(client, standin, day):
    with pytest.raises(ValueError, match="additionalProperties"):
        client.generate("weights", "가중치?", Untranslatable)

    assert standin.requests == []
    [row] = rows(day)
    assert row["outcome"] == "error" and "additionalProperties" in row["error"]


# -- usage per feature ------------------------------------------------------------------------------------


def test_usage_per_feature_sums_calls_and_tokens(client, standin, day):
    standin.answer(GOOD)
    standin.answer(GOOD, thinking_tokens=7)
    standin.answer_text("not json")
    standin.answer(GOOD)
    ask(client, "theme_classify")
    ask(client, "theme_classify")
    with pytest.raises(LlmInvalidAnswer):
        ask(client, "theme_classify")
    ask(client, "outlook")

    sent = [body["usageMetadata"] for _, body in standin.sent]
    usage = {entry.feature: entry for entry in usage_by_feature(day)}

    theme, outlook = usage["theme_classify"], usage["outlook"]
    assert (theme.calls, theme.ok, theme.failed, theme.refused) == (3, 2, 1, 0)
    assert theme.prompt_tokens == sum(u["promptTokenCount"] for u in sent[:3])
    assert theme.answer_tokens == sum(u["candidatesTokenCount"] for u in sent[:3])
    assert theme.thinking_tokens == 7
    assert theme.total_tokens == sum(u["totalTokenCount"] for u in sent[:3])
    assert (outlook.calls, outlook.ok, outlook.total_tokens) == (1, 1, sent[3]["totalTokenCount"])
    assert usage_by_feature(day + timedelta(days=1000)) == []


def test_usage_today_counts_todays_calls(database, standin):
    standin.answer(GOOD)
    feature = f"usage_today_{time.monotonic_ns()}"
    with gemini_env(standin):
        result = llm.generate(feature, "오늘의 테마?", ThemeAnswer)  # the process's client, real clock
        inside = llm.default_client()
        assert llm.default_client() is inside
    assert llm.default_client() is not inside  # rebuilt from the restored settings

    [entry] = [entry for entry in usage_today() if entry.feature == feature]
    assert entry.calls == 1 and entry.total_tokens == result.usage.total
