"""The LLM call log (Postgres table ``llm_calls``): one row per call, whatever its outcome.

Operators read tokens per feature from it (``kstock`` benches and the closing notes of issue 13
quote :func:`usage_by_feature`), and a feature's fall-backs to rules show up as its error rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from psycopg.rows import dict_row

from kstock import db
from kstock.llm.errors import LlmBudgetExceeded
from kstock.market.calendar import KST

OK = "ok"
REFUSED = LlmBudgetExceeded.outcome


@dataclass(frozen=True)
class TokenUsage:
    """Gemini's usageMetadata; None where the provider reported nothing (no answer, or a field left out)."""

    prompt: int | None = None
    answer: int | None = None  # candidatesTokenCount
    thinking: int | None = None  # thoughtsTokenCount, billed as output
    total: int | None = None


NO_USAGE = TokenUsage()


@dataclass(frozen=True)
class CallRecord:
    called_at: datetime
    feature: str
    model: str
    outcome: str
    latency_ms: int
    attempts: int
    usage: TokenUsage = NO_USAGE
    model_version: str | None = None
    error: str | None = None

    @property
    def kst_day(self) -> date:
        return kst_day(self.called_at)


@dataclass(frozen=True)
class FeatureUsage:
    """One feature's calls and tokens on one KST day."""

    feature: str
    calls: int  # every row, refused ones included
    ok: int
    failed: int  # reached (or tried to reach) the provider and got no usable answer
    refused: int  # refused by the daily budget before any I/O
    prompt_tokens: int
    answer_tokens: int
    thinking_tokens: int
    total_tokens: int


def record(call: CallRecord) -> None:
    with db.transaction() as conn:
        conn.execute(
            """
            INSERT INTO llm_calls (called_at, kst_day, feature, model, model_version, prompt_tokens,
                                   answer_tokens, thinking_tokens, total_tokens, latency_ms, attempts,
                                   outcome, error)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                call.called_at,
                call.kst_day,
                call.feature,
                call.model,
                call.model_version,
                call.usage.prompt,
                call.usage.answer,
                call.usage.thinking,
                call.usage.total,
                call.latency_ms,
                call.attempts,
                call.outcome,
                call.error,
            ),
        )


def usage_by_feature(day: date) -> list[FeatureUsage]:
    """Calls and tokens per feature on a KST day, busiest feature (by total tokens) first."""
    # An explicit dict_row cursor: the rows are typed the same whatever the pool's default factory.
    with db.read() as conn, conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(
            """
            SELECT feature,
                   count(*) AS calls,
                   count(*) FILTER (WHERE outcome = %(ok)s) AS ok,
                   count(*) FILTER (WHERE outcome NOT IN (%(ok)s, %(refused)s)) AS failed,
                   count(*) FILTER (WHERE outcome = %(refused)s) AS refused,
                   coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
                   coalesce(sum(answer_tokens), 0) AS answer_tokens,
                   coalesce(sum(thinking_tokens), 0) AS thinking_tokens,
                   coalesce(sum(total_tokens), 0) AS total_tokens
            FROM llm_calls
            WHERE kst_day = %(day)s
            GROUP BY feature
            ORDER BY total_tokens DESC, feature
            """,
            {"day": day, "ok": OK, "refused": REFUSED},
        ).fetchall()
    return [FeatureUsage(**{key: row[key] for key in FeatureUsage.__dataclass_fields__}) for row in rows]


def kst_day(moment: datetime) -> date:
    """The KST calendar day of an aware moment: the day its call counts against the budget."""
    return moment.astimezone(KST).date()


def kst_today() -> date:
    return kst_day(datetime.now(KST))


def usage_today() -> list[FeatureUsage]:
    """:func:`usage_by_feature` for the current KST day (the budget's day)."""
    return usage_by_feature(kst_today())
