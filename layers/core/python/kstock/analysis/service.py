"""The analysis of a company or an industry: stored per KST day, LLM when it can, rules when it cannot.

A request (:func:`analysis`) answers at once, inside API Gateway's 29 s:

- today's stored analysis, when there is one (a second request the same day costs no LLM call);
- else, without an LLM (no key, or the budget spent), the rules result, stored as today's;
- else the rules result with ``pending: true``, stored as today's claim, and one AnalysisQueue message
  (only the request whose INSERT won sends it); the worker (:func:`compute`) replaces it with Gemini's
  answer, or with the rules result and the reason when Gemini gives none.

The nightly job (:func:`queue_nightly`) queues the largest companies and every industry the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal

from psycopg.rows import dict_row
from pydantic import Field

from kstock import db
from kstock.analysis import inputs, rules, store
from kstock.analysis.inputs import AnalysisInput, Citable
from kstock.analysis.llm import LlmAnalysis, ask
from kstock.analysis.model import Analysis, Point
from kstock.config import get_settings
from kstock.llm import GeminiClient, LlmError, default_client
from kstock.llm.calls import kst_today
from kstock.schemas import CamelModel

log = logging.getLogger("kstock.analysis")

NIGHTLY_TOP_COMPANIES = 100  # by market cap; any other company is computed on its first request
NO_KEY = "no LLM: GOOGLE_API_KEY is not set"

Subject = Literal["company", "industry"]
Enqueue = Callable[[list[dict[str, Any]]], int]


class AnalysisRequest(CamelModel):
    """One AnalysisQueue message."""

    subject: Subject
    id: int = Field(ge=1)
    day: date


def _now() -> datetime:
    return datetime.now(UTC)


def _input(subject: Subject, owner_id: int, now: datetime) -> AnalysisInput:
    if subject == "company":
        return inputs.company_input(owner_id, now)
    return inputs.industry_input(owner_id, now)


def _simulated(data: AnalysisInput) -> bool:
    sources = {c.source for c in [*data.news, *data.filings]} | {str(r.get("source")) for r in data.yearly}
    return "simulated" in sources


def rules_analysis(data: AnalysisInput, now: datetime, *, reason: str | None, pending: bool = False) -> Analysis:
    parts = rules.components(data)
    score = rules.score_of(parts)
    cited = data.citables()

    def point(part: rules.Component) -> Point:
        sign = "+" if part.contribution > 0 else ""
        text = f"{part.label} {part.value:g}{part.unit} (점수 기여 {sign}{part.contribution:g}점)"
        return Point(text=text, citations=[cited[part.metric]] if part.metric in cited else [])

    return Analysis(
        subject=data.subject,
        subject_id=data.subject_id,
        name=data.name,
        summary=rules.summary_of(data, parts, score),
        outlook=rules.outlook_of(score),
        growth_score=score,
        drivers=[point(p) for p in parts if p.value is not None and p.contribution > 0],
        risks=[point(p) for p in parts if p.value is not None and p.contribution < 0],
        model=rules.RULES_MODEL,
        ai_generated=False,
        components=parts,
        fallback_reason=reason,
        pending=pending,
        simulated=_simulated(data),
        generated_at=now,
        input_as_of=data.input_as_of,
    )


def llm_analysis(data: AnalysisInput, got: LlmAnalysis, now: datetime) -> Analysis:
    cited = data.citables()
    answer = got.answer

    def points(items: list[Any]) -> list[Point]:
        return [Point(text=p.text, citations=[cited[c] for c in dict.fromkeys(p.citations)]) for p in items]

    return Analysis(
        subject=data.subject,
        subject_id=data.subject_id,
        name=data.name,
        summary=answer.summary.strip(),
        outlook=answer.outlook,
        growth_score=answer.growth_score,
        drivers=points(answer.drivers),
        risks=points(answer.risks),
        model=got.model,
        ai_generated=True,
        simulated=_simulated(data),
        generated_at=now,
        input_as_of=data.input_as_of,
        total_tokens=got.total_tokens,
    )


def _send(messages: list[dict[str, Any]]) -> int:
    from kstock.loads import send

    url = get_settings().analysis_queue_url
    if url is None:
        return 0
    return send(url, messages)


def analysis(
    subject: Subject,
    owner_id: int,
    *,
    client: GeminiClient | None = None,
    day: date | None = None,
    now: Callable[[], datetime] = _now,
    enqueue: Enqueue | None = None,
) -> Analysis:
    """Today's analysis of a company or industry, never waiting for an LLM when a queue is configured.

    NOT_FOUND for an unknown id. Without ANALYSIS_QUEUE_URL (a bare API process) the request that wins
    the claim computes the LLM answer itself.
    """
    day = day or kst_today()
    stored = store.load(subject, owner_id, day)
    if stored is not None:
        return stored
    gemini = client or default_client()
    data = _input(subject, owner_id, now())
    if not gemini.available:
        store.insert(subject, owner_id, day, rules_analysis(data, now(), reason=NO_KEY))
        return store.load(subject, owner_id, day) or rules_analysis(data, now(), reason=NO_KEY)
    pending = rules_analysis(data, now(), reason=None, pending=True)
    if store.insert(subject, owner_id, day, pending):
        message = AnalysisRequest(subject=subject, id=owner_id, day=day).wire()
        sent = (enqueue or _send)([message])
        if not sent:
            return compute(AnalysisRequest(subject=subject, id=owner_id, day=day), client=gemini, now=now)
    return store.load(subject, owner_id, day) or pending


def compute(
    request: AnalysisRequest, *, client: GeminiClient | None = None, now: Callable[[], datetime] = _now
) -> Analysis:
    """The worker: take the day's row and answer it with Gemini, else rules with the reason logged."""
    stored = store.load(request.subject, request.id, request.day)
    if stored is not None and not stored.pending:
        return stored
    data = _input(request.subject, request.id, now())
    gemini = client or default_client()
    if stored is None:  # the nightly job queues without writing: the worker claims
        store.insert(request.subject, request.id, request.day, rules_analysis(data, now(), reason=None, pending=True))
    row_id = store.take(request.subject, request.id, request.day)
    if row_id is None:  # done meanwhile, or another worker is computing it
        return store.load(request.subject, request.id, request.day) or rules_analysis(data, now(), reason=None)
    try:
        result = llm_analysis(data, ask(data, gemini), now())
    except LlmError as exc:
        reason = f"{exc.outcome}: {exc.message}"
        log.warning("%s %s analysed by rules: %s", request.subject, request.id, reason, extra={"outcome": exc.outcome})
        result = rules_analysis(data, now(), reason=reason)
    store.finish(row_id, result)
    return result


def nightly_requests(day: date, top: int = NIGHTLY_TOP_COMPANIES) -> list[AnalysisRequest]:
    """The largest ``top`` stocks by market cap and every industry, for ``day``."""
    with db.read() as connection, connection.cursor(row_factory=dict_row) as conn:
        companies = conn.execute(
            "SELECT id FROM companies WHERE kind = 'STOCK' ORDER BY market_cap DESC NULLS LAST, id LIMIT %s", (top,)
        ).fetchall()
        industries = conn.execute("SELECT id FROM industries ORDER BY id").fetchall()
    return [AnalysisRequest(subject="company", id=int(r["id"]), day=day) for r in companies] + [
        AnalysisRequest(subject="industry", id=int(r["id"]), day=day) for r in industries
    ]


def queue_nightly(day: date | None = None, top: int = NIGHTLY_TOP_COMPANIES, enqueue: Enqueue | None = None) -> int:
    requests = nightly_requests(day or kst_today(), top)
    return (enqueue or _send)([r.wire() for r in requests])


__all__ = ["AnalysisRequest", "Citable", "analysis", "compute", "nightly_requests", "queue_nightly"]
