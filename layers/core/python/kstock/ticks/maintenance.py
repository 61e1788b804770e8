"""Keeping the tick store in shape: day partitions created ahead, and the PRD's retention
(ticks 7 days, 1m bars 30 days, 15m 90 days, 1h one year, 1d forever)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

TICK_RETENTION_DAYS = 7
BAR_RETENTION = {"ohlcv_1m": timedelta(days=30), "ohlcv_15m": timedelta(days=90), "ohlcv_1h": timedelta(days=365)}
PARTITIONS_AHEAD = 3


def _single_int(row: Any, column: str) -> int:
    """The integer of a one-column row, whether ``conn`` gives dict rows (the pool) or tuples."""
    if row is None:  # a SELECT of one function call always answers one row
        raise RuntimeError(f"no row for {column}")
    return int(row[column] if isinstance(row, dict) else row[0])


def ensure_partitions(
    conn: psycopg.Connection[Any], today: date | None = None, days_ahead: int = PARTITIONS_AHEAD
) -> int:
    """Create the day partitions of stock_ticks from today (UTC) on; returns how many were new."""
    today = today or datetime.now(UTC).date()
    row = conn.execute("SELECT ensure_tick_partitions(%s, %s) AS created", (today, days_ahead + 1)).fetchone()
    return _single_int(row, "created")


@dataclass(frozen=True)
class RetentionResult:
    tick_partitions_dropped: int
    bars_deleted: dict[str, int]


def apply_retention(conn: psycopg.Connection[Any], now: datetime | None = None) -> RetentionResult:
    """Drop tick partitions and delete bars older than their retention, in one transaction."""
    now = now or datetime.now(UTC)
    with conn.transaction():
        cutoff_day = (now - timedelta(days=TICK_RETENTION_DAYS)).astimezone(UTC).date()
        row = conn.execute("SELECT drop_tick_partitions_before(%s) AS dropped", (cutoff_day,)).fetchone()
        dropped = _single_int(row, "dropped")
        deleted = {}
        for table, keep in BAR_RETENTION.items():
            # table names come from the constant above, never from input
            cursor = conn.execute(f"DELETE FROM {table} WHERE bucket < %s", (now - keep,))
            deleted[table] = cursor.rowcount
    return RetentionResult(dropped, deleted)
