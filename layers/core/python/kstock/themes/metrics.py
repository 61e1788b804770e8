"""The theme pipeline's cost counters per KST day (table theme_metrics).

Counted in Postgres, in the same transaction as the work they count, so a rolled-back poll or
classification counts nothing and a Redis restart loses nothing. GET /themes/metrics reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

RANKING_POLLS = "rankingPolls"
ENTRANTS_SEEN = "entrantsSeen"  # symbols first seen in the top 30 today
DEBOUNCED_AWAY = "debouncedAway"  # left the top 30 before the debounce elapsed: never classified
QUEUED = "classificationsQueued"
CLASSIFIED = "classifications"  # answers stored (a redelivery replays one and counts nothing)
LLM_CALLS = "llmCalls"
RULES_FALLBACKS = "rulesFallbacks"  # decided by the rules classifier (no key, or the LLM failed)
UNCLASSIFIED = "unclassified"  # 미분류 answers (retried later)
TOKENS = "tokens"
REPLAYED = "replayedAnswers"  # redelivered messages answered from the stored classification

ALL = (
    RANKING_POLLS,
    ENTRANTS_SEEN,
    DEBOUNCED_AWAY,
    QUEUED,
    CLASSIFIED,
    LLM_CALLS,
    RULES_FALLBACKS,
    UNCLASSIFIED,
    TOKENS,
    REPLAYED,
)


def add(conn: Any, day: date, counts: Mapping[str, int]) -> None:
    """Add to today's counters (zero counts are skipped)."""
    rows = [(day, name, value) for name, value in counts.items() if value]
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO theme_metrics (day, metric, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (day, metric) DO UPDATE SET value = theme_metrics.value + EXCLUDED.value",
            rows,
        )


def of_day(conn: Any, day: date) -> dict[str, int]:
    """Every counter of the day, zero when nothing was counted."""
    found = {name: 0 for name in ALL}
    for row in conn.execute("SELECT metric, value FROM theme_metrics WHERE day = %s", (day,)).fetchall():
        found[row["metric"]] = int(row["value"])
    return found
