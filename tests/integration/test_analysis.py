"""The AI outlook (issue 16): grounded input, the rules score recomputed from stored rows, Gemini through
the real google-genai client against the wire-format stand-in, every failure ending in rules with its
reason, the budget, and one LLM call for fifty concurrent first requests."""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from support.envs import environment
from support.gemini_standin import MODEL_VERSION, GeminiStandIn, gemini_env, make_client

from kstock import db
from kstock.analysis import rules, service
from kstock.analysis.figures import MOMENTUM_BARS
from kstock.analysis.inputs import company_input
from kstock.analysis.service import AnalysisRequest
from kstock.errors import NotFound
from kstock.llm import GeminiClient

BARS = 130
_days = itertools.count()


@dataclass
class World:
    industry_id: int
    company_id: int  # the one with everything: financials, bars, news, filings, theme, scan grade
    peer_id: int
    bare_id: int  # a company kstock holds nothing about
    symbols: list[str]
    news_ids: list[int]  # company news inside the 30 days, newest first
    old_news_id: int  # 40 days old: outside the input
    filing_ids: list[int]


def _bars(symbol: str, start: float, step: float) -> list[tuple[Any, ...]]:
    first = datetime.now(UTC).replace(hour=6, minute=30, second=0, microsecond=0) - timedelta(days=BARS)
    rows = []
    for i in range(BARS):
        close = round(start + step * i + (7 if i % 2 else -7), 2)
        rows.append((symbol, first + timedelta(days=i), close, close + 20, close - 20, close, 1000 + i, close * 1000))
    return rows


@pytest.fixture(scope="module")
def world(database: str) -> Iterator[World]:
    tag = os.urandom(3).hex()
    base = 900_000 + int(tag, 16) % 90_000
    symbols = [f"{base + n:06d}"[-6:] for n in range(3)]
    now = datetime.now(UTC)
    with db.transaction() as conn:
        industry = conn.execute(
            "INSERT INTO industries (name) VALUES (%s) RETURNING id", (f"분석테스트업종-{tag}",)
        ).fetchone()["id"]
        ids = [
            conn.execute(
                "INSERT INTO companies (symbol, name, market, industry_id, market_cap) "
                "VALUES (%s, %s, 'KOSPI', %s, %s) RETURNING id",
                (symbol, f"분석테스트{n}-{tag}", industry, 10**12 - n),
            ).fetchone()["id"]
            for n, symbol in enumerate(symbols)
        ]
        main, peer, bare = ids
        for cid, year, revenue, profit in (
            (main, 2024, 100_000_000_000, 10_000_000_000),
            (main, 2025, 120_000_000_000, 15_000_000_000),
            (peer, 2024, 50_000_000_000, 5_000_000_000),
            (peer, 2025, 45_000_000_000, 3_000_000_000),
        ):
            conn.execute(
                "INSERT INTO financials (company_id, fiscal_year, period, revenue, operating_profit, net_income, "
                "source) VALUES (%s, %s, 'FY', %s, %s, %s, 'simulated')",
                (cid, year, revenue, profit, profit // 2),
            )
        for year, revenue in ((2024, 28_000_000_000), (2025, 32_000_000_000)):
            conn.execute(
                "INSERT INTO financials (company_id, fiscal_year, period, revenue, operating_profit, source) "
                "VALUES (%s, %s, 'Q3', %s, %s, 'simulated')",
                (main, year, revenue, revenue // 10),
            )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ohlcv_1d (symbol, bucket, open, high, low, close, volume, amount, trade_count) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL)",
                _bars(symbols[0], 10_000, 25) + _bars(symbols[1], 30_000, -40),
            )
        news_ids = []
        for n, days_ago in enumerate((1, 2, 3, 40)):
            news_id = conn.execute(
                "INSERT INTO news (url, title, summary, source, published_at) VALUES (%s, %s, %s, 'simulated', %s) "
                "RETURNING id",
                (
                    f"https://news.example/{tag}/{n}",
                    f"분석테스트 뉴스 {n} 수주 확대",
                    f"요약 {n}",
                    now - timedelta(days=days_ago),
                ),
            ).fetchone()["id"]
            conn.execute("INSERT INTO news_companies (news_id, company_id) VALUES (%s, %s)", (news_id, main))
            conn.execute("INSERT INTO news_industries (news_id, industry_id) VALUES (%s, %s)", (news_id, industry))
            news_ids.append(news_id)
        filing_ids = [
            conn.execute(
                "INSERT INTO reports (company_id, receipt_no, title, report_type, filed_on, url, source) "
                "VALUES (%s, %s, %s, 'quarterly', %s, %s, 'simulated') RETURNING id",
                (main, f"{tag}{n:08d}", f"분기보고서 {n}", (now - timedelta(days=10 + n)).date(), f"https://dart/{n}"),
            ).fetchone()["id"]
            for n in range(2)
        ]
        theme = conn.execute(
            "INSERT INTO themes (name) VALUES (%s) RETURNING id", (f"분석테스트테마-{tag}",)
        ).fetchone()["id"]
        conn.execute(
            "INSERT INTO theme_members (theme_id, company_id, classifier) VALUES (%s, %s, 'rules')", (theme, main)
        )
        run = conn.execute(
            "INSERT INTO scan_runs (request, status, finished_at, started_at) "
            "VALUES ('{}', 'done', now() + interval '100 years', now() + interval '100 years') RETURNING id"
        ).fetchone()["id"]
        conn.execute(
            "INSERT INTO scan_signals (run_id, company_id, grade, score, rs_rank) VALUES (%s, %s, 'B', 61.5, 80)",
            (run, main),
        )
    try:
        yield World(industry, main, peer, bare, symbols, news_ids[:3], news_ids[3], filing_ids)
    finally:
        with db.transaction() as conn:
            conn.execute("DELETE FROM scan_runs WHERE id = %s", (run,))
            conn.execute("DELETE FROM themes WHERE id = %s", (theme,))
            conn.execute("DELETE FROM news WHERE id = ANY(%s)", (news_ids,))
            conn.execute("DELETE FROM ohlcv_1d WHERE symbol = ANY(%s)", (symbols,))
            conn.execute("DELETE FROM companies WHERE id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM industries WHERE id = %s", (industry,))


@pytest.fixture
def day() -> date:
    """Each test its own far-future KST day: its own stored analyses and LLM budget."""
    return date(2096, 1, 1) + timedelta(days=10 * next(_days))


@pytest.fixture
def no_key(database: str) -> Iterator[None]:
    with environment(GOOGLE_API_KEY=None, ANALYSIS_QUEUE_URL=None):
        yield


@pytest.fixture
def standin() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as server:
        yield server


@pytest.fixture
def client(database: str, standin: GeminiStandIn, day: date) -> Iterator[GeminiClient]:
    with gemini_env(standin, ANALYSIS_QUEUE_URL=None):
        gemini = make_client(day)
        try:
            yield gemini
        finally:
            gemini.close()


def llm_calls(day: date, feature: str = "company_analysis") -> list[dict[str, Any]]:
    with db.read() as conn:
        return list(
            conn.execute(
                "SELECT * FROM llm_calls WHERE kst_day = %s AND feature = %s ORDER BY id", (day, feature)
            ).fetchall()
        )


def stored_row(company_id: int, day: date) -> dict[str, Any]:
    with db.read() as conn:
        return dict(
            conn.execute(
                "SELECT * FROM ai_analyses WHERE company_id = %s AND kst_day = %s", (company_id, day)
            ).fetchone()
        )


def good_answer(world: World, **changes: Any) -> dict[str, Any]:
    answer = {
        "summary": "매출이 20% 성장했다. 영업이익률이 개선됐다. 수주 뉴스가 이어진다.",
        "outlook": "positive",
        "growthScore": 72,
        "drivers": [
            {"text": "매출 성장", "citations": ["fig:revenue_growth", f"news:{world.news_ids[0]}"]},
            {"text": "분기 실적 공시", "citations": [f"filing:{world.filing_ids[0]}"]},
        ],
        "risks": [{"text": "변동성", "citations": ["fig:volatility_60d"]}],
    }
    answer.update(changes)
    return answer


# -- the grounded input and the rules --------------------------------------------------------------------


def test_input_holds_only_stored_data_with_citable_ids(database, world):
    data = company_input(world.company_id, datetime.now(UTC))

    assert [n.id for n in data.news] == [f"news:{i}" for i in world.news_ids]  # the 40-day-old one is left out
    assert f"news:{world.old_news_id}" not in data.citables()
    assert [f.id for f in data.filings] == [f"filing:{i}" for i in world.filing_ids]
    assert data.themes and data.themes[0].startswith("분석테스트테마-")
    assert data.labels["scanGrade"] == "B"
    assert data.metrics["quarter_revenue_growth"].value == pytest.approx((32 - 28) / 28 * 100, abs=0.01)
    assert data.metrics["industry_revenue_growth"].value == -10.0  # the one peer: 50 -> 45
    assert data.input_as_of is not None


def test_rules_analysis_without_a_key_is_traceable_to_stored_rows(no_key, world, day):
    analysis = service.analysis("company", world.company_id, day=day)

    assert analysis.model == "rules" and analysis.ai_generated is False and not analysis.pending
    assert analysis.fallback_reason == service.NO_KEY
    assert analysis.simulated is True  # the seeded news and filings are the stand-ins'
    parts = {p.name: p for p in analysis.components or []}
    # Every shown number recomputed from the tables.
    with db.read() as conn:
        fy = {
            r["fiscal_year"]: r
            for r in conn.execute(
                "SELECT fiscal_year, revenue, operating_profit FROM financials WHERE company_id = %s AND period = 'FY'",
                (world.company_id,),
            ).fetchall()
        }
        closes = [
            float(r["close"])
            for r in conn.execute(
                "SELECT close FROM ohlcv_1d WHERE symbol = %s ORDER BY bucket DESC LIMIT %s",
                (world.symbols[0], MOMENTUM_BARS + 1),
            ).fetchall()
        ]
        news = conn.execute(
            "SELECT count(*) AS n FROM news_companies l JOIN news n ON n.id = l.news_id "
            "WHERE l.company_id = %s AND n.published_at >= now() - interval '30 days'",
            (world.company_id,),
        ).fetchone()["n"]
        rs = conn.execute("SELECT rs_rank FROM scan_signals WHERE company_id = %s", (world.company_id,)).fetchone()[
            "rs_rank"
        ]
    revenue = (fy[2025]["revenue"] - fy[2024]["revenue"]) / fy[2024]["revenue"] * 100
    profit = (fy[2025]["operating_profit"] - fy[2024]["operating_profit"]) / fy[2024]["operating_profit"] * 100
    margins = [fy[y]["operating_profit"] / fy[y]["revenue"] * 100 for y in (2025, 2024)]
    assert parts["revenue_growth"].value == pytest.approx(revenue, abs=0.01)
    assert parts["operating_profit_growth"].value == pytest.approx(profit, abs=0.01)
    assert parts["margin_trend"].value == pytest.approx(margins[0] - margins[1], abs=0.01)
    assert parts["momentum"].value == pytest.approx((closes[0] / closes[-1] - 1) * 100, abs=0.01)
    assert parts["relative_strength"].value == float(rs)
    assert parts["news_volume"].value == news == 3
    # The score from the shown components, by the documented formula.
    expected = {
        "revenue_growth": min(max(revenue, -30), 30) / 30 * 15,
        "operating_profit_growth": min(max(profit, -50), 50) / 50 * 10,
        "margin_trend": min(max(margins[0] - margins[1], -5), 5) / 5 * 10,
        "momentum": min(max(parts["momentum"].value or 0, -30), 30) / 30 * 10,
        "relative_strength": (float(rs) - 50) / 50 * 10,
        "news_volume": min(news, 10) / 10 * 5,
    }
    for name, contribution in expected.items():
        assert parts[name].contribution == pytest.approx(contribution, abs=0.01), name
    assert analysis.growth_score == round(min(100, max(0, 50 + sum(p.contribution for p in parts.values()))))
    assert analysis.outlook == rules.outlook_of(analysis.growth_score)
    assert "규칙 기반" in analysis.summary and "AI 분석이 아닌" in analysis.summary
    # Drivers cite the figures they state; those resolve to titles.
    assert analysis.drivers and all(p.citations and p.citations[0].kind == "figure" for p in analysis.drivers)
    # Stored once for the day: the second request reads it.
    again = service.analysis("company", world.company_id, day=day)
    assert again == analysis


def test_rules_say_what_is_missing(no_key, world, day):
    analysis = service.analysis("company", world.bare_id, day=day)

    assert analysis.model == "rules"
    assert all(p.contribution == 0 for p in analysis.components or [])
    assert analysis.growth_score == 50 and analysis.outlook == "neutral"
    assert "없어 점수에 반영하지 않았습니다" in analysis.summary


def test_industry_rules_use_member_medians_and_news(no_key, world, day):
    analysis = service.analysis("industry", world.industry_id, day=day)

    parts = {p.name: p for p in analysis.components or []}
    assert parts["revenue_growth"].value == pytest.approx((20.0 + -10.0) / 2)  # median of two members
    assert parts["news_volume"].value == 3
    assert analysis.growth_score == rules.score_of(list(parts.values()))
    with pytest.raises(NotFound):
        service.analysis("industry", 10**8, day=day)


# -- Gemini through the stand-in -------------------------------------------------------------------------


def test_valid_answer_is_stored_with_model_and_resolved_citations(client, standin, world, day):
    standin.answer(good_answer(world))

    analysis = service.analysis("company", world.company_id, client=client, day=day)

    assert analysis.model == MODEL_VERSION and analysis.ai_generated and analysis.components is None
    assert analysis.growth_score == 72 and analysis.outlook == "positive" and not analysis.pending
    first = analysis.drivers[0].citations
    assert [c.id for c in first] == ["fig:revenue_growth", f"news:{world.news_ids[0]}"]
    assert first[1].title == "분석테스트 뉴스 0 수주 확대" and first[1].url.endswith("/0")
    assert analysis.drivers[1].citations[0].url == "https://dart/0"
    [call] = llm_calls(day)
    assert analysis.total_tokens == call["total_tokens"] > 0
    row = stored_row(world.company_id, day)
    assert row["model"] == MODEL_VERSION and row["status"] == "done" and row["total_tokens"] == call["total_tokens"]
    # The prompt gave the model the ids it may cite and told it to use only them.
    [request] = standin.requests
    assert f"[news:{world.news_ids[0]}]" in request.prompt and "[fig:revenue_growth]" in request.prompt
    assert f"news:{world.old_news_id}" not in request.prompt
    assert "주어진 데이터만" in request.system and "없다고" in request.system
    # A second request the same day costs no call.
    assert service.analysis("company", world.company_id, client=client, day=day) == analysis
    assert len(standin.requests) == 1


def test_unknown_citation_is_refused_then_the_retry_is_used(client, standin, world, day, caplog):
    standin.answer(good_answer(world, risks=[{"text": "지어낸 근거", "citations": ["news:999999999"]}]))
    standin.answer(good_answer(world, growthScore=65))

    with caplog.at_level(logging.WARNING, logger="kstock.analysis"):
        analysis = service.analysis("company", world.company_id, client=client, day=day)

    assert analysis.model == MODEL_VERSION and analysis.growth_score == 65
    assert len(standin.requests) == 2 and len(llm_calls(day)) == 2
    assert "news:999999999" in caplog.text


def test_two_unknown_citations_end_in_rules(client, standin, world, day):
    for _ in range(2):
        standin.answer(good_answer(world, drivers=[{"text": "x", "citations": ["filing:0"]}]))

    analysis = service.analysis("company", world.company_id, client=client, day=day)

    assert analysis.model == "rules" and "invalid_answer" in (analysis.fallback_reason or "")


@pytest.mark.parametrize(
    "script, outcome",
    [
        (lambda s: s.answer_text('{"summary": "잘린'), "invalid_answer"),
        (lambda s: s.finish("SAFETY"), "blocked"),
        (lambda s: [s.fail(429, retry_delay="0s") for _ in range(3)], "rate_limited"),
        (lambda s: s.answer({}, delay=60), "timeout"),
    ],
    ids=["malformed-json", "safety", "429-storm", "timeout"],
)
def test_each_failure_ends_in_rules_with_the_reason_logged(standin, world, day, caplog, script, outcome):
    script(standin)
    with gemini_env(standin, ANALYSIS_QUEUE_URL=None, GEMINI_TIMEOUT_SECONDS="1"):
        gemini = make_client(day)
        try:
            with caplog.at_level(logging.WARNING, logger="kstock.analysis"):
                analysis = service.analysis("company", world.company_id, client=gemini, day=day)
        finally:
            gemini.close()

    assert analysis.model == "rules" and not analysis.ai_generated and not analysis.pending
    assert (analysis.fallback_reason or "").startswith(outcome)
    assert stored_row(world.company_id, day)["fallback_reason"].startswith(outcome)
    assert any(r.name == "kstock.analysis" and outcome in r.getMessage() for r in caplog.records)
    [call] = llm_calls(day)
    assert call["outcome"] == outcome


def test_budget_stops_calls(standin, world, day):
    with gemini_env(standin, ANALYSIS_QUEUE_URL=None, LLM_DAILY_CALL_BUDGET="0"):
        gemini = make_client(day)
        try:
            analysis = service.analysis("company", world.company_id, client=gemini, day=day)
        finally:
            gemini.close()

    assert standin.requests == []
    assert analysis.model == "rules" and (analysis.fallback_reason or "").startswith("budget_exceeded")
    assert [c["outcome"] for c in llm_calls(day)] == ["budget_exceeded"]


# -- one call for many first requests ----------------------------------------------------------------------


def test_fifty_concurrent_first_requests_cost_one_llm_call(client, standin, world, day):
    standin.answer(good_answer(world))
    queued: list[dict[str, Any]] = []
    lock = threading.Lock()

    def enqueue(messages: list[dict[str, Any]]) -> int:
        with lock:
            queued.extend(messages)
        return len(messages)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(
                lambda _: service.analysis("company", world.company_id, client=client, day=day, enqueue=enqueue),
                range(50),
            )
        )

    # Every request answered at once with the rules result, pending; one claim, one message.
    assert all(a.pending and a.model == "rules" for a in answers)
    assert len({a.generated_at for a in answers}) == 1
    assert queued == [{"subject": "company", "id": world.company_id, "day": day.isoformat()}]
    assert standin.requests == []

    # The worker, with the message delivered twice at once (SQS is at-least-once), calls Gemini once.
    request = AnalysisRequest.model_validate(queued[0])
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda _: service.compute(request, client=client), range(2)))
    assert len(standin.requests) == 1 and len(llm_calls(day)) == 1
    assert any(d.model == MODEL_VERSION for d in done)
    final = service.analysis("company", world.company_id, client=client, day=day, enqueue=enqueue)
    assert final.model == MODEL_VERSION and not final.pending
    assert len(queued) == 1 and len(standin.requests) == 1


def test_nightly_requests_name_the_largest_companies_and_every_industry(database, world, day):
    requests = service.nightly_requests(day, top=3)

    companies = [r.id for r in requests if r.subject == "company"]
    industries = [r.id for r in requests if r.subject == "industry"]
    assert len(companies) == 3 and world.industry_id in industries
    sent: list[dict[str, Any]] = []
    assert service.queue_nightly(day, top=3, enqueue=lambda m: sent.extend(m) or len(m)) == len(requests)
    assert sent[0] == {"subject": "company", "id": companies[0], "day": day.isoformat()}


# -- the routes ------------------------------------------------------------------------------------------


def test_routes_answer_rules_analyses_whose_score_adds_up(api, no_key, world):
    status, body, _ = api("GET", f"/companies/{world.company_id}/analysis")

    assert status == 200, body
    data = body["data"]
    assert data["model"] == "rules" and data["aiGenerated"] is False and data["pending"] is False
    assert set(data) >= {"summary", "outlook", "growthScore", "drivers", "risks", "generatedAt", "inputAsOf"}
    shown = sum(c["contribution"] for c in data["components"])
    assert data["growthScore"] == round(min(100, max(0, 50 + shown)))
    assert data["drivers"][0]["citations"][0]["title"]

    status, body, _ = api("GET", f"/industries/{world.industry_id}/analysis")
    assert status == 200 and body["data"]["subject"] == "industry" and body["data"]["model"] == "rules"

    status, body, _ = api("GET", "/companies/999999999/analysis")
    assert status == 404 and body["code"] == "NOT_FOUND"


def test_openapi_documents_the_pending_choice(api):
    status, doc, _ = api("GET", "/openapi.json")

    assert status == 200
    operation = doc["paths"]["/companies/{companyId}/analysis"]["get"]
    assert "pending: true" in operation["description"] and "29 s" in operation["description"]
    assert "/industries/{industryId}/analysis" in doc["paths"]


def test_prompt_ids_are_exactly_the_citable_ids(database, world):
    from kstock.analysis.llm import CITABLE_IN_PROMPT
    from kstock.analysis.prompt import build_prompt

    for data in (
        company_input(world.company_id, datetime.now(UTC)),
        company_input(world.bare_id, datetime.now(UTC)),  # figures missing: shown, not citable
    ):
        prompt = build_prompt(data)
        assert set(CITABLE_IN_PROMPT.findall(prompt)) == set(data.citables())
    assert "데이터 없음" in prompt


# -- the Lambdas -----------------------------------------------------------------------------------------


def _sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{n}",
                "receiptHandle": f"r{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-northeast-2:000000000000:AnalysisQueue",
                "awsRegion": "ap-northeast-2",
            }
            for n, body in enumerate(bodies)
        ]
    }


def test_worker_computes_good_messages_and_reports_poison_ones(no_key, world, day):
    from kstock_local.cloud.lambdas.runtime import LambdaContext, load_handler

    worker = load_handler("chalicelib.handlers.workers.analysis.compute")
    good = AnalysisRequest(subject="industry", id=world.industry_id, day=day).model_dump_json()
    unknown = AnalysisRequest(subject="company", id=10**8, day=day).model_dump_json()

    result = worker(_sqs_event(good, "not json", unknown), LambdaContext(function_name="AnalysisWorkerFunction"))

    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["m1", "m2"]  # to the DLQ
    with db.read() as conn:
        row = conn.execute(
            "SELECT model, status FROM ai_analyses WHERE industry_id = %s AND kst_day = %s", (world.industry_id, day)
        ).fetchone()
    assert row == {"model": "rules", "status": "done"}
