"""Theme classification (issue 14): the rules classifier on constructed headlines, the Gemini
classifier against the wire-format stand-in (tests/support/gemini_standin.py) over a real socket, and the
chain LLM -> rules -> 미분류 with the reason of every fallback recorded."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from support.gemini_standin import GeminiStandIn, gemini_env, make_client

from kstock import db
from kstock.llm import GeminiClient
from kstock.themes import UNCLASSIFIED, Entrant, Headline, RulesClassifier, ThemeInfo, classify, idempotency_key
from kstock.themes.classify import NO_KEY
from kstock.themes.llm import FEATURE, MAX_HEADLINES

THEMES = (
    ThemeInfo(
        "2차전지",
        "전기차 배터리 셀과 양극재, 음극재, 전해액 소재 기업",
        5,
        (
            "양극재 출하량 증가에 배터리 소재 업체 실적 개선",
            "리튬 가격 반등",
            "전기차 배터리 공장 증설",
            "전해액 북미 공급 계약",
            "음극재 국산화 추진",
        ),
    ),
    ThemeInfo(
        "방산",
        "전차, 자주포, 미사일 등 무기체계 수출 기업",
        4,
        ("K9 자주포 수출 확대", "유도미사일 양산 물량 증가", "전차 수출 계약 협상", "국방비 증액에 방산 수출 기대"),
    ),
    ThemeInfo(
        "게임",
        "모바일, PC, 콘솔 게임 개발사",
        3,
        ("신작 모바일 게임 출시", "콘솔 게임 글로벌 흥행", "게임 업데이트로 매출 순위 반등"),
    ),
)


def entrant(*titles: str, symbol: str = "999990", name: str = "가상기업") -> Entrant:
    return Entrant(symbol, name, tuple(Headline(i, title) for i, title in enumerate(titles, 1)))


@pytest.fixture(scope="module")
def rules() -> RulesClassifier:
    return RulesClassifier(THEMES)


# -- rules -----------------------------------------------------------------------------------------------


def test_rules_pick_the_theme_the_headlines_are_about(rules):
    verdict = rules.classify(
        entrant("가상기업, 하이니켈 양극재 공급 확대", "배터리 소재 수요 회복 기대", "가상기업 외국인 순매수")
    )

    assert verdict.theme == "2차전지"
    assert 0 < verdict.confidence <= 1
    assert {"양극재", "배터리"} <= set(verdict.keywords)
    assert verdict.headline_ids == (1, 2)  # the third headline carries no theme word


def test_rules_find_a_theme_name_whatever_its_spacing(rules):
    verdict = rules.classify(entrant("2차 전지 업종 강세", "이차 전지 소재 주문 증가"))

    assert verdict.theme == "2차전지"
    assert "2차전지" in verdict.keywords


def test_rules_let_the_majority_of_headlines_decide_over_a_passing_mention(rules):
    verdict = rules.classify(
        entrant("방산주 약세 속 게임주 강세", "가상기업, 신작 모바일 게임 출시", "콘솔 게임 흥행 기대")
    )

    assert verdict.theme == "게임"


@pytest.mark.parametrize(
    "titles",
    [
        ("코스피 외국인 순매도에 약보합 마감",),
        ("환율 상승에 증시 변동성 확대", "금리 인하 기대에 투자 심리 개선"),
        ("가상기업, 주주총회 개최", "가상기업 52주 신고가"),
    ],
)
def test_rules_are_undecided_on_noise(rules, titles):
    verdict = rules.classify(entrant(*titles))

    assert not verdict.decided and verdict.theme is None
    assert verdict.headline_ids == () and verdict.confidence == 0.0
    assert verdict.why


def test_rules_are_undecided_when_two_themes_are_too_close():
    # Symmetric by construction: each theme has three words of its own and one name.
    symmetric = RulesClassifier(
        (
            ThemeInfo("방산", "자주포 전차 미사일"),
            ThemeInfo("2차전지", "양극재 리튬 전해액"),
            ThemeInfo("게임", "신작 콘솔"),
        )
    )

    tied = symmetric.classify(entrant("자주포 미사일 양극재 리튬"))
    ahead = symmetric.classify(entrant("자주포 미사일 양극재"))

    assert tied.theme is None and "too close" in tied.why
    assert {name for name, _ in tied.scores[:2]} == {"방산", "2차전지"}
    assert ahead.theme == "방산" and set(ahead.keywords) == {"자주포", "미사일"}


def test_the_companys_own_name_is_no_evidence():
    themes = (ThemeInfo("엔터", "K-팝 기획사와 공연"), ThemeInfo("게임", "게임 개발사"))
    classifier = RulesClassifier(themes)

    only_name = classifier.classify(entrant("게임엔터, 주주총회 개최", name="게임엔터"))
    about_games = classifier.classify(entrant("게임엔터, 신작 게임 출시", name="게임엔터"))

    assert only_name.theme is None
    assert about_games.theme == "게임"


def test_rules_learn_a_theme_from_its_name_and_description_alone():
    themes = (*THEMES, ThemeInfo("초전도체", "상온 초전도 물질과 초전도 선재 관련 기업"))
    verdict = RulesClassifier(themes).classify(entrant("초전도체 검증 논문 공개", "초전도 선재 공급 확대"))

    assert verdict.theme == "초전도체"


def test_rules_are_deterministic(rules):
    titles = ("가상기업, K9 자주포 유럽 수출", "유도미사일 양산 확대")
    first = rules.classify(entrant(*titles))

    assert RulesClassifier(tuple(THEMES)).classify(entrant(*titles)) == first
    assert rules.classify(entrant(*titles)) == first


def test_generic_words_weigh_less_than_distinctive_ones():
    themes = (
        ThemeInfo("방산", "", 0, ("자주포 수출 증가", "미사일 수출 확대")),
        ThemeInfo("2차전지", "", 0, ("양극재 수출 증가", "리튬 수출 확대")),
    )
    defence = RulesClassifier(themes).keywords("방산")

    # "수출" is in every headline of both themes (tf 2) and still weighs less than a word seen once.
    assert defence.index("자주포") < defence.index("수출") and defence.index("미사일") < defence.index("수출")
    assert "양극재" not in defence


# -- the chain without the LLM ---------------------------------------------------------------------------


def test_rules_decide_when_the_llm_is_not_used(rules):
    got = classify(entrant("가상기업, K9 자주포 유럽 수출", "유도미사일 양산 확대"), THEMES, use_llm=False)

    assert (got.theme, got.classifier, got.is_new, got.retry) == ("방산", "rules", False, False)
    assert got.headline_ids == (1, 2)
    assert "방산" in got.reason and got.fallback is None and not got.llm_called


def test_the_chain_ends_in_unclassified_with_a_retry_when_rules_cannot_decide():
    got = classify(entrant("가상기업, 주주총회 개최"), THEMES, use_llm=False)

    assert got.theme == UNCLASSIFIED and got.unclassified
    assert got.classifier == "rules" and got.retry
    assert got.headline_ids == () and got.confidence == 0.0
    assert "미분류" in got.reason
    assert got.wire()["retry"] is True and got.wire()["theme"] == "미분류"


# -- idempotency key ---------------------------------------------------------------------------------------


def test_idempotency_key_is_symbol_kst_day_and_headline_digest():
    at = datetime(2026, 1, 12, 1, 0, tzinfo=UTC)  # 10:00 KST
    news = (Headline(7, "배터리 공장 증설"), Headline(3, "양극재 공급"))

    key = idempotency_key("247540", news, at)

    assert key.startswith("247540:2026-01-12:")
    assert idempotency_key("247540", tuple(reversed(news)), at + timedelta(hours=5)) == key  # order, same day
    assert idempotency_key("247540", (*news, Headline(9, "리튬 가격 반등")), at) != key  # news changed
    assert idempotency_key("247540", (news[0], Headline(3, "양극재 공급 확대")), at) != key  # a title edited
    assert idempotency_key("066970", news, at) != key
    midnight_kst = datetime(2026, 1, 12, 15, 0, tzinfo=UTC)
    assert idempotency_key("247540", news, midnight_kst).startswith("247540:2026-01-13:")
    assert idempotency_key("247540", news, midnight_kst - timedelta(seconds=1)) == key
    with pytest.raises(ValueError):
        idempotency_key("247540", news, datetime(2026, 1, 12, 10, 0))


# -- the LLM path, against the Gemini stand-in ---------------------------------------------------------------

_days = itertools.count()
DEFENCE = entrant("가상기업, K9 자주포 유럽 수출", "유도미사일 양산 확대", "가상기업 목표주가 상향")


@pytest.fixture
def day() -> date:
    return date(2094, 1, 1) + timedelta(days=10 * next(_days))  # its own KST day: budgets never mix


@pytest.fixture
def standin() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as server:
        yield server


@pytest.fixture
def gemini(database, standin, day) -> Iterator[GeminiClient]:
    with gemini_env(standin):
        client = make_client(day)
        try:
            yield client
        finally:
            client.close()


def answer(theme: str, *, is_new: bool = False, ids: list[int] | None = None, confidence: float = 0.9) -> dict:
    return {
        "theme": theme,
        "isNew": is_new,
        "confidence": confidence,
        "reason": "K9 자주포 수출 헤드라인이 방산 테마를 뒷받침합니다.",
        "headlineIds": [1, 2] if ids is None else ids,
    }


def logged(day: date) -> list[dict[str, Any]]:
    with db.read() as conn:
        return list(conn.execute("SELECT * FROM llm_calls WHERE kst_day = %s ORDER BY id", (day,)).fetchall())


def test_a_valid_llm_answer_is_used(gemini, standin, day):
    standin.answer(answer("방산", confidence=0.87))

    got = classify(DEFENCE, THEMES, client=gemini)

    assert (got.theme, got.classifier, got.is_new, got.retry) == ("방산", "llm", False, False)
    assert got.confidence == 0.87 and got.headline_ids == (1, 2)
    assert got.reason == "K9 자주포 수출 헤드라인이 방산 테마를 뒷받침합니다."
    assert got.fallback is None and got.llm_called
    assert got.tokens == standin.sent[-1][1]["usageMetadata"]["totalTokenCount"] > 0
    [row] = logged(day)
    assert row["feature"] == FEATURE and row["outcome"] == "ok"


def test_the_prompt_lists_the_themes_and_the_headlines_with_their_ids(gemini, standin):
    standin.answer(answer("방산"))

    classify(DEFENCE, THEMES, client=gemini)

    [request] = standin.requests
    for theme in THEMES:
        assert f"- {theme.name}: {theme.description} (편입 종목 {theme.member_count}개)" in request.prompt
    assert "[1] 가상기업, K9 자주포 유럽 수출" in request.prompt
    assert "[3] 가상기업 목표주가 상향" in request.prompt
    assert "헤드라인만 근거" in request.system + request.prompt
    schema = request.generation_config["responseSchema"]
    assert set(schema["required"]) == {"theme", "isNew", "confidence", "reason", "headlineIds"}
    assert schema["properties"]["headlineIds"]["type"] == "ARRAY"


def test_a_new_name_that_matches_an_existing_theme_is_that_theme(gemini, standin):
    standin.answer(answer("이차 전지", is_new=True, ids=[1]))

    got = classify(entrant("가상기업, 양극재 공급 확대"), THEMES, client=gemini)

    assert (got.theme, got.is_new, got.classifier) == ("2차전지", False, "llm")


def test_a_genuinely_new_theme_is_kept_with_a_clean_name(gemini, standin):
    standin.answer(answer("  초전도체 관련주", is_new=True, ids=[1, 2]))

    got = classify(entrant("가상기업, 초전도 선재 공급", "초전도체 검증 논문 공개"), THEMES, client=gemini)

    assert (got.theme, got.is_new, got.classifier, got.retry) == ("초전도체", True, "llm", False)


@pytest.mark.parametrize(
    ("reply", "refusal"),
    [
        (answer("방산", ids=[1, 99]), "not given: [99]"),  # a headline the model was never shown
        (answer("방산", ids=[]), "cites no headline"),
        (answer("우주항공", is_new=False), "no listed theme matches"),  # "existing" but not listed
        (answer("미분류", is_new=True), "no usable theme"),
    ],
)
def test_an_answer_kstock_refuses_falls_back_to_rules(gemini, standin, reply, refusal):
    standin.answer(reply)

    got = classify(DEFENCE, THEMES, client=gemini)

    assert len(standin.requests) == 1
    assert (got.theme, got.classifier) == ("방산", "rules")
    assert got.fallback is not None and got.fallback.startswith("LlmInvalidAnswer") and refusal in got.fallback
    assert got.llm_called and got.tokens == 0


def test_a_safety_block_falls_back_to_rules(gemini, standin):
    standin.finish("SAFETY")

    got = classify(DEFENCE, THEMES, client=gemini)

    assert (got.theme, got.classifier) == ("방산", "rules")
    assert got.fallback is not None and got.fallback.startswith("LlmBlocked") and "SAFETY" in got.fallback


def test_a_429_storm_falls_back_to_rules_after_the_configured_attempts(gemini, standin, day):
    for _ in range(3):
        standin.fail(429)

    got = classify(DEFENCE, THEMES, client=gemini)

    assert len(standin.requests) == 3
    assert (got.theme, got.classifier) == ("방산", "rules")
    assert got.fallback is not None and got.fallback.startswith("LlmRateLimited")
    assert logged(day)[0]["outcome"] == "rate_limited"


def test_a_timeout_falls_back_to_rules(database, standin, day):
    standin.answer(answer("방산"), delay=120)  # released when the stand-in stops
    with gemini_env(standin, GEMINI_TIMEOUT_SECONDS="0.5"):
        client = make_client(day)
        got = classify(DEFENCE, THEMES, client=client)
        client.close()

    assert (got.theme, got.classifier) == ("방산", "rules")
    assert got.fallback is not None and got.fallback.startswith("LlmTimeout")
    assert standin.sent == []


def test_a_spent_budget_falls_back_to_rules_without_a_request(database, standin, day):
    with gemini_env(standin, LLM_DAILY_CALL_BUDGET="0"):
        client = make_client(day)
        got = classify(DEFENCE, THEMES, client=client)
        client.close()

    assert standin.requests == []
    assert (got.theme, got.classifier) == ("방산", "rules")
    assert got.fallback is not None and got.fallback.startswith("LlmBudgetExceeded")
    assert logged(day)[0]["outcome"] == "budget_exceeded"


@pytest.mark.parametrize("key", [None, ""])
def test_no_key_means_rules_and_no_request(database, standin, day, key):
    with gemini_env(standin, GOOGLE_API_KEY=key):
        client = make_client(day)
        got = classify(DEFENCE, THEMES, client=client)

    assert standin.requests == []
    assert (got.theme, got.classifier) == ("방산", "rules")
    assert got.fallback == NO_KEY and not got.llm_called
    assert logged(day) == []


def test_llm_failure_then_rules_undecided_ends_in_unclassified_with_retry(gemini, standin):
    standin.fail(503)
    standin.fail(503)
    standin.fail(503)

    got = classify(entrant("가상기업, 주주총회 개최", "가상기업 52주 신고가"), THEMES, client=gemini)

    assert got.theme == UNCLASSIFIED and got.classifier == "rules" and got.retry
    assert got.fallback is not None and got.fallback.startswith("LlmUnavailable")


def test_a_headline_the_prompt_did_not_show_cannot_be_cited(gemini, standin):
    many = entrant(*[f"자주포 수출 소식 {n}" for n in range(1, MAX_HEADLINES + 3)])
    standin.answer(answer("방산", ids=[1, MAX_HEADLINES + 2]))

    got = classify(many, THEMES, client=gemini)

    [request] = standin.requests
    assert f"[{MAX_HEADLINES}] " in request.prompt and f"[{MAX_HEADLINES + 1}] " not in request.prompt
    assert got.classifier == "rules"
    assert got.fallback is not None and f"not given: [{MAX_HEADLINES + 2}]" in got.fallback
