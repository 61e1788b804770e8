"""The daily budget of Naver search calls, counted in Postgres.

Naver allows 25,000 search calls per application per day. Every call (every attempt, since a
retried call is billed too) first takes one unit here; past ``NAVER_DAILY_QUOTA`` the call is
refused with :class:`NaverQuotaExceeded` without reaching Naver. Postgres rather than Redis:
the counter is one atomic upsert, survives a Redis flush, and workers already hold a pool.
Days are KST days (Naver's quota resets at midnight in Korea).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from kstock import db
from kstock.market.calendar import KST
from kstock.news.errors import NaverQuotaExceeded


def kst_today() -> date:
    return datetime.now(KST).date()


def app_id(client_id: str) -> str:
    """A short hash naming the application in the counter table (the client id itself is a secret)."""
    return hashlib.sha256(client_id.encode()).hexdigest()[:12]


class DailyQuota:
    """Calls allowed per KST day for one application, shared by every process using the database."""

    def __init__(self, app: str, limit: int) -> None:
        self.app = app
        self.limit = limit

    def take(self, day: date | None = None) -> int:
        """Count one call; the day's count so far. Raises NaverQuotaExceeded when none is left."""
        with db.transaction() as conn:
            row: Any = conn.execute(
                """
                INSERT INTO naver_quota (day, app, calls) VALUES (%s, %s, 1)
                ON CONFLICT (day, app) DO UPDATE SET calls = naver_quota.calls + 1
                WHERE naver_quota.calls < %s
                RETURNING calls
                """,
                (day or kst_today(), self.app, self.limit),
            ).fetchone()
        if row is None or row["calls"] > self.limit:
            raise NaverQuotaExceeded(f"the day's {self.limit} Naver search calls are spent", code="quota")
        return int(row["calls"])

    def exhaust(self, day: date | None = None) -> None:
        """Naver said the quota is spent (010): stop every worker until the next KST day."""
        with db.transaction() as conn:
            conn.execute(
                """
                INSERT INTO naver_quota (day, app, calls) VALUES (%s, %s, %s)
                ON CONFLICT (day, app) DO UPDATE SET calls = GREATEST(naver_quota.calls, EXCLUDED.calls)
                """,
                (day or kst_today(), self.app, self.limit),
            )

    def used(self, day: date | None = None) -> int:
        with db.read() as conn:
            row: Any = conn.execute(
                "SELECT calls FROM naver_quota WHERE day = %s AND app = %s", (day or kst_today(), self.app)
            ).fetchone()
        return int(row["calls"]) if row else 0
