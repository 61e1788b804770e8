"""ai_analyses: one analysis per company or industry per KST day, and the claim that dedupes LLM work.

The first writer of a day INSERTs the row (ON CONFLICT DO NOTHING: exactly one writer wins) holding
the rules result, ``pending`` when an LLM answer is still to come. A worker then *takes* the row
(``claimed_at``, under the row's lock) before calling Gemini: a second worker, a redelivered message
or fifty concurrent first requests find it taken or done and make no call. A taken row whose worker
died is taken again after ``CLAIM_SECONDS``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from kstock import db
from kstock.analysis.model import Analysis

Subject = Literal["company", "industry"]
CLAIM_SECONDS = 600  # longer than the worker's timeout: a live worker's claim is never taken over

_OWNER = {"company": "company_id", "industry": "industry_id"}


def _values(analysis: Analysis) -> dict[str, Any]:
    return {
        "summary": analysis.summary,
        "growth_score": analysis.growth_score,
        "model": analysis.model,
        "outlook": analysis.outlook,
        "answer": Jsonb(analysis.wire()),
        "input_as_of": analysis.input_as_of,
        "fallback_reason": analysis.fallback_reason,
        "total_tokens": analysis.total_tokens,
        "generated_at": analysis.generated_at,
    }


def insert(subject: Subject, owner_id: int, day: date, analysis: Analysis) -> bool:
    """Store the day's first analysis; False when one is already stored (nothing changes)."""
    owner = _OWNER[subject]
    values = _values(analysis) | {"owner": owner_id, "day": day, "status": "pending" if analysis.pending else "done"}
    with db.transaction() as connection, connection.cursor(row_factory=dict_row) as conn:
        row = conn.execute(
            f"""
            INSERT INTO ai_analyses ({owner}, kst_day, status, summary, growth_score, model, outlook, answer,
                                     input_as_of, fallback_reason, total_tokens, generated_at)
            VALUES (%(owner)s, %(day)s, %(status)s, %(summary)s, %(growth_score)s, %(model)s, %(outlook)s,
                    %(answer)s, %(input_as_of)s, %(fallback_reason)s, %(total_tokens)s, %(generated_at)s)
            ON CONFLICT ({owner}, kst_day) WHERE {owner} IS NOT NULL DO NOTHING
            RETURNING id
            """,
            values,
        ).fetchone()
    return row is not None


def load(subject: Subject, owner_id: int, day: date) -> Analysis | None:
    with db.read() as connection, connection.cursor(row_factory=dict_row) as conn:
        row = conn.execute(
            f"SELECT status, answer FROM ai_analyses WHERE {_OWNER[subject]} = %s AND kst_day = %s",
            (owner_id, day),
        ).fetchone()
    if row is None:
        return None
    return Analysis.model_validate({**row["answer"], "pending": row["status"] == "pending"})


def take(subject: Subject, owner_id: int, day: date) -> int | None:
    """Claim the day's pending row for computing; its id, or None (done, or another worker has it)."""
    with db.transaction() as connection, connection.cursor(row_factory=dict_row) as conn:
        row = conn.execute(
            f"""
            UPDATE ai_analyses SET claimed_at = now()
            WHERE {_OWNER[subject]} = %s AND kst_day = %s AND status = 'pending'
              AND (claimed_at IS NULL OR claimed_at < now() - make_interval(secs => %s))
            RETURNING id
            """,
            (owner_id, day, CLAIM_SECONDS),
        ).fetchone()
    return int(row["id"]) if row else None


def finish(row_id: int, analysis: Analysis) -> None:
    with db.transaction() as connection, connection.cursor(row_factory=dict_row) as conn:
        conn.execute(
            """
            UPDATE ai_analyses SET status = 'done', summary = %(summary)s, growth_score = %(growth_score)s,
                   model = %(model)s, outlook = %(outlook)s, answer = %(answer)s, input_as_of = %(input_as_of)s,
                   fallback_reason = %(fallback_reason)s, total_tokens = %(total_tokens)s,
                   generated_at = %(generated_at)s
            WHERE id = %(id)s
            """,
            _values(analysis) | {"id": row_id},
        )
