"""What one NewsScheduleFunction run asks Naver about, within the daily quota.

Every run (each 10 minutes of the trading day, ~59 runs) takes the ``NEWS_TOP_COMPANIES`` largest
companies by market cap, every industry, and the next ``NEWS_ROTATING_COMPANIES`` of the rest in turn.
With the whole market seeded (~2,500 companies, ~160 industries) one query per company and industry
per run would be ~160,000 calls a day against Naver's 25,000; the defaults make ~300 a run (~17,800
a day), and the rotation brings every company round in about a trading day. The turn comes from the
run's 10-minute slot, so it needs no state and two runs in one slot ask the same thing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kstock.news.ingest import NewsQuery

SLOT_SECONDS = 600  # the schedule's period


def scheduled_queries(conn: Any, *, now: datetime, top: int, rotating: int) -> list[NewsQuery]:
    """The run's queries: the ``top`` largest companies, every industry, and ``rotating`` more in turn."""
    companies = [
        NewsQuery("company", r["id"], r["name"])
        for r in conn.execute(
            "SELECT id, name FROM companies WHERE kind = 'STOCK' ORDER BY market_cap DESC NULLS LAST, id"
        ).fetchall()
    ]
    head, rest = companies[:top], companies[top:]
    turn: list[NewsQuery] = []
    if rest and rotating > 0:
        start = (int(now.timestamp()) // SLOT_SECONDS * rotating) % len(rest)
        turn = [rest[(start + i) % len(rest)] for i in range(min(rotating, len(rest)))]
    industries = [
        NewsQuery("industry", r["id"], r["name"])
        for r in conn.execute("SELECT id, name FROM industries ORDER BY id").fetchall()
    ]
    return head + turn + industries
