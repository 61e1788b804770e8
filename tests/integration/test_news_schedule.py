"""The news schedule stays within Naver's daily quota with the whole market seeded: each run asks about
the largest companies, every industry and the next companies in turn, and the turns cover everyone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kstock import db
from kstock.config import get_settings
from kstock.news.schedule import SLOT_SECONDS, scheduled_queries

START = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)


def _run(conn, moment: datetime, top: int = 10, rotating: int = 40):
    return scheduled_queries(conn, now=moment, top=top, rotating=rotating)


def test_a_run_asks_the_largest_companies_a_turn_of_the_rest_and_every_industry(database):
    with db.read() as conn:
        stocks = conn.execute("SELECT count(*) AS n FROM companies WHERE kind = 'STOCK'").fetchone()["n"]
        industries = conn.execute("SELECT count(*) AS n FROM industries").fetchone()["n"]
        queries = _run(conn, START)
    companies = [q for q in queries if q.kind == "company"]
    assert stocks > 1000, "the whole market is seeded"
    assert len(companies) == 10 + 40 and len({q.id for q in companies}) == 50
    assert sum(q.kind == "industry" for q in queries) == industries


def test_the_turns_cover_every_company_and_two_runs_in_one_slot_agree(database):
    with db.read() as conn:
        stocks = conn.execute("SELECT count(*) AS n FROM companies WHERE kind = 'STOCK'").fetchone()["n"]
        first = _run(conn, START)
        assert _run(conn, START + timedelta(seconds=SLOT_SECONDS - 1)) == first  # same slot, same questions
        seen: set[int] = set()
        runs = 0
        while len(seen) < stocks:
            seen |= {q.id for q in _run(conn, START + timedelta(seconds=SLOT_SECONDS * runs)) if q.kind == "company"}
            runs += 1
            assert runs <= stocks, "some company never comes round"
    assert runs == -(-(stocks - 10) // 40)  # the rest in turns of 40, no company skipped or asked twice a round


def test_the_defaults_fit_the_daily_quota(database):
    settings = get_settings()
    with db.read() as conn:
        per_run = len(
            scheduled_queries(
                conn, now=START, top=settings.news_top_companies, rotating=settings.news_rotating_companies
            )
        )
    runs_per_day = 59  # template.yaml: every 10 minutes 09:00-15:50 KST on weekdays, hourly otherwise
    assert per_run * runs_per_day < settings.naver_daily_quota
