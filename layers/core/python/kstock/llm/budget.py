"""The daily LLM call budget: ``LLM_DAILY_CALL_BUDGET`` calls per KST day across all features.

A call is reserved before any network I/O, so a bug (a loop, a redelivered message storm) can
never run up a bill: past the budget the reservation fails and the caller falls back to rules.
The count lives in Postgres, not in a process, because many Lambdas call at once.
"""

from __future__ import annotations

from datetime import date

from psycopg.rows import dict_row

from kstock import db

# One statement, atomic under concurrency: the first call of the day inserts the row (unless the
# budget is 0); later calls take the row lock and increment only while under the budget. A
# concurrent caller waits for the lock and re-checks the WHERE on the committed count, so two
# Lambdas can never both take the last call. No row returned means the budget is spent.
_RESERVE = """
INSERT INTO llm_call_budget AS b (kst_day, calls)
SELECT %(day)s, 1 WHERE %(budget)s > 0
ON CONFLICT (kst_day) DO UPDATE SET calls = b.calls + 1 WHERE b.calls < %(budget)s
RETURNING b.calls
"""


def reserve_call(day: date, budget: int) -> int | None:
    """Count one call against ``day``; return the day's count so far, or None when it is spent."""
    with db.transaction() as conn, conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(_RESERVE, {"day": day, "budget": budget}).fetchone()
    return None if row is None else int(row["calls"])


def calls_reserved(day: date) -> int:
    """Calls counted against ``day`` so far (0 when none)."""
    with db.read() as conn, conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute("SELECT calls FROM llm_call_budget WHERE kst_day = %s", (day,)).fetchone()
    return 0 if row is None else int(row["calls"])
