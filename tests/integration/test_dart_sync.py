"""DART sync against the stand-in into the session Postgres: idempotent, per period, labelled, readable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row
from support.dart import TODAY, Clock

from kstock import db
from kstock.dart import queries, store, sync
from kstock.dart.client import DartClient
from kstock.dart.models import ANNUAL, FIRST_QUARTER, HALF, THIRD_QUARTER, CorpCode
from kstock_local.dart_sim import DartStandIn, DartStandInConfig, DartStandInThread

KEY = "a" * 40
# Companies other test modules leave alone (they use 삼성전자, SK하이닉스, NAVER, 현대차).
SYMBOLS = ["207940", "373220"]


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(TODAY)


@pytest.fixture(scope="module")
def standin(clock) -> Iterator[DartStandIn]:
    with DartStandInThread(DartStandInConfig(corp_code_count=1500, clock=clock)) as running:
        yield running


@pytest.fixture
def dart(standin) -> DartClient:
    return DartClient(standin.url, KEY)


@pytest.fixture(scope="module", autouse=True)
def clean(database) -> Iterator[None]:
    """Every DART row this module writes goes afterwards (the session database is shared)."""
    yield
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM financials WHERE source = 'simulated'")
        conn.execute("DELETE FROM reports WHERE source = 'simulated'")
        conn.execute("DELETE FROM data_refreshes WHERE kind IN ('filings', 'financials')")
        conn.execute("DELETE FROM dart_corp_codes")


@pytest.fixture(scope="module")
def synced_codes(database, standin) -> sync.SyncResult:
    """A first sync: from no stored corp codes (whatever other modules synced before)."""
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM dart_corp_codes")
    return sync.sync_corp_codes(DartClient(standin.url, KEY))


def company_id(database: str, symbol: str) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT id FROM companies WHERE symbol = %s", (symbol,)).fetchone()
    assert row is not None
    return int(row[0])


def rows(database: str, sql: str, *params: object) -> list[dict]:
    with psycopg.connect(database, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def test_corp_codes_sync_matches_every_seeded_company_and_is_idempotent(database, standin, synced_codes):
    seeded = rows(database, "SELECT count(*) AS n FROM companies")[0]["n"]
    assert synced_codes.companies == seeded and synced_codes.changed == synced_codes.fetched
    before = rows(
        database, "SELECT corp_code, stock_code, corp_name, modify_date, source FROM dart_corp_codes ORDER BY corp_code"
    )
    assert len(before) == synced_codes.fetched and {r["source"] for r in before} == {"simulated"}
    again = sync.sync_corp_codes(DartClient(standin.url, KEY))
    assert (again.changed, again.fetched, again.calls) == (0, synced_codes.fetched, 1)
    assert (
        rows(
            database,
            "SELECT corp_code, stock_code, corp_name, modify_date, source FROM dart_corp_codes ORDER BY corp_code",
        )
        == before
    )


def test_financials_yearly_and_quarterly_with_fs_div_and_source(database, dart, synced_codes):
    progress: list[sync.SyncProgress] = []
    first = sync.sync_financials(dart, symbols=SYMBOLS + ["999999"], years=[2025, 2026], progress=progress.append)
    # 2025: four reports; 2026: only Q1 is filed by June (the others answer 013 and store nothing).
    assert (first.companies, first.fetched, first.changed, first.calls) == (2, 10, 10, 16)
    assert first.missing == ["999999"]
    assert [(p.done, p.total, p.symbol) for p in progress] == [(1, 2, "207940"), (2, 2, "373220")]
    stored = rows(
        database,
        "SELECT company_id, fiscal_year, period, fs_div, revenue, operating_profit, net_income, "
        "receipt_no, source, fetched_at FROM financials WHERE source = 'simulated' "
        "ORDER BY company_id, fiscal_year, period",
    )
    bio = company_id(database, "207940")
    assert [(r["fiscal_year"], r["period"]) for r in stored if r["company_id"] == bio] == [
        (2025, "FY"),
        (2025, "Q1"),
        (2025, "Q2"),
        (2025, "Q3"),
        (2026, "Q1"),
    ]
    assert {r["fs_div"] for r in stored} <= {"CFS", "OFS"} and all(r["receipt_no"] for r in stored)

    again = sync.sync_financials(dart, symbols=SYMBOLS, years=[2025, 2026])
    assert (again.fetched, again.changed) == (10, 0)
    assert (
        rows(
            database,
            "SELECT company_id, fiscal_year, period, fs_div, revenue, operating_profit, net_income, "
            "receipt_no, source, fetched_at FROM financials WHERE source = 'simulated' "
            "ORDER BY company_id, fiscal_year, period",
        )
        == stored
    )

    listed = queries.financials(bio)
    assert [(f.fiscal_year, f.period) for f in listed] == [
        (2026, "Q1"),
        (2025, "FY"),
        (2025, "Q3"),
        (2025, "Q2"),
        (2025, "Q1"),
    ]
    wire = listed[1].wire()
    assert wire["fsDiv"] in ("CFS", "OFS") and wire["source"] == "simulated" and wire["period"] == "FY"
    assert [f.period for f in queries.financials(bio, kind="quarterly")] == ["Q1", "Q3", "Q2", "Q1"]
    latest = queries.latest_yearly(bio)
    assert latest is not None and (latest.fiscal_year, latest.source) == (2025, "simulated")
    assert latest.revenue == next(r["revenue"] for r in stored if r["company_id"] == bio and r["period"] == "FY")
    refreshed = rows(database, "SELECT company_id FROM data_refreshes WHERE kind = 'financials'")
    assert {r["company_id"] for r in refreshed} == {bio, company_id(database, "373220")}


def test_filings_backfill_then_only_new_ones(database, dart, synced_codes, clock):
    first = sync.sync_filings(dart, symbols=SYMBOLS)
    assert first.companies == 2 and first.fetched > 2 * 4 * 3 and first.changed == first.fetched
    bio = company_id(database, "207940")
    listed = queries.reports(bio)
    assert listed and listed[0].filed_on <= TODAY
    assert all(
        r.url == f"https://dart.fss.or.kr/dsaf001/main.do?rcpNo={r.receipt_no}" and r.source == "simulated"
        for r in listed
    )
    assert {r.report_type for r in listed} >= {"annual", "half", "quarterly", "major_event"}
    assert all(r.title.startswith("주요사항보고서") for r in listed if r.report_type == "major_event")
    stored = rows(database, "SELECT * FROM reports WHERE source = 'simulated' ORDER BY receipt_no")

    again = sync.sync_filings(dart, symbols=SYMBOLS)
    assert again.changed == 0 and again.fetched > 0  # the newest day is asked again: nothing new
    assert rows(database, "SELECT * FROM reports WHERE source = 'simulated' ORDER BY receipt_no") == stored

    # The daily job (no symbols): the companies backfilled above share one market-wide search, the
    # others have never been searched and get their own (a backfill) in the same run.
    clock.now += timedelta(days=90)  # past mid-August: every half-year report is filed
    try:
        # A job that leaves backfills to workers searches market-wide only: pages of 100 filings, at most
        # two periodic reports per company in the window, not a call per company.
        due = sync.unbackfilled_symbols()
        assert len(due) == synced_codes.companies - 2 and not set(SYMBOLS) & set(due)
        market_only = sync.sync_filings(dart, until=clock.now.date(), kinds=("A",), backfill=False)
        assert market_only.calls <= 2 * synced_codes.companies // 100 + 1 < len(due)
        assert market_only.changed == 2  # the two half-year reports
        assert sync.unbackfilled_symbols() == due
        # A few never-searched companies show the daily run's own backfill searches as well as all ~2,500
        # would (which cost the run a minute of stand-in calls): the others count as searched before.
        never_searched = due[:3]
        with psycopg.connect(database, row_factory=dict_row) as conn:
            searched = [c["company_id"] for c in store.companies_with_corp_codes(conn, due[3:])]
            store.mark_refreshed(conn, searched, store.FILINGS)
        daily = sync.sync_filings(dart, until=clock.now.date(), kinds=("A",))
        assert sync.unbackfilled_symbols() == [] and daily.calls >= len(never_searched) + 1  # theirs + market-wide
        new = rows(
            database, "SELECT company_id, title FROM reports WHERE source = 'simulated' AND filed_on > %s", TODAY
        )
        assert {r["company_id"] for r in new if "반기보고서 (2026.06)" in r["title"]} >= {bio}
        assert daily.companies == synced_codes.companies
        # From now on every company is covered by the market-wide search alone: the pages of the newest
        # day's filings (asked again), nothing new.
        next_day = sync.sync_filings(dart, until=clock.now.date(), kinds=("A",))
        assert next_day.changed == 0 and next_day.calls <= next_day.fetched // 100 + 1 < market_only.calls
    finally:
        clock.now -= timedelta(days=90)


def test_store_follows_a_stock_code_to_its_new_corp_code(database):
    def code(corp_code: str, stock_code: str, modified: str) -> CorpCode:
        return CorpCode.model_validate(
            {"corp_code": corp_code, "corp_name": "가나다", "stock_code": stock_code, "modify_date": modified}
        )

    with db.transaction() as conn:
        saved = rows(database, "SELECT corp_code, stock_code, corp_name, modify_date, source FROM dart_corp_codes")
        conn.execute("DELETE FROM dart_corp_codes")
        try:
            store.replace_corp_codes(conn, [code("99000001", "900001", "20240101")], "dart")
            # The same stock code under a newer corp code (and a stale duplicate in the same file).
            changed = store.replace_corp_codes(
                conn, [code("99000002", "900001", "20250101"), code("99000003", "900001", "20200101")], "dart"
            )
            assert changed == 1
            assert conn.execute("SELECT corp_code, stock_code FROM dart_corp_codes").fetchall() == [
                {"corp_code": "99000002", "stock_code": "900001"}
            ]
        finally:
            conn.rollback()
    assert rows(database, "SELECT corp_code, stock_code, corp_name, modify_date, source FROM dart_corp_codes") == saved


@pytest.mark.parametrize(
    ("day", "season"),
    [
        (date(2026, 1, 10), (2025, THIRD_QUARTER)),
        (date(2026, 4, 1), (2025, ANNUAL)),
        (date(2026, 5, 16), (2026, FIRST_QUARTER)),
        (date(2026, 8, 15), (2026, HALF)),
        (date(2026, 11, 14), (2026, HALF)),
        (date(2026, 12, 1), (2026, THIRD_QUARTER)),
    ],
)
def test_latest_reporting_season(day, season):
    assert sync.latest_season(day) == season


def test_rows_written_the_old_way_are_yearly(database):
    """Migration 0006 keeps the pre-period insert shape working: such a row is the FY of its year."""
    hyundai = company_id(database, "005380")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO financials (company_id, fiscal_year, revenue, operating_profit, source) "
            "VALUES (%s, 2019, 10, 1, 'simulated')",
            (hyundai,),
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO financials (company_id, fiscal_year, revenue, source) VALUES (%s, 2019, 11, 'simulated')",
                (hyundai,),
            )
    try:
        assert [(f.fiscal_year, f.period, f.fs_div) for f in queries.financials(hyundai)] == [(2019, "FY", None)]
    finally:
        with psycopg.connect(database) as conn:
            conn.execute("DELETE FROM financials WHERE company_id = %s AND fiscal_year = 2019", (hyundai,))


def test_sync_all_is_what_the_cli_runs(database, dart, synced_codes):
    events: list[sync.SyncProgress] = []
    results = sync.sync_all(dart, symbols=["005490"], years=1, progress=events.append)
    # Corp codes are stored already (the module's first sync): not fetched again unless asked.
    assert [r.kind for r in results] == ["filings", "financials"]
    filings, financials = results
    assert (filings.companies, financials.companies) == (1, 1) and financials.fetched >= 1  # this year's Q1
    assert {e.kind for e in events} == {"filings", "financials"} and events[-1].done == events[-1].total
    posco = company_id(database, "005490")
    assert queries.reports(posco) and queries.financials(posco)
    assert [r.kind for r in sync.sync_all(dart, symbols=["005490"], years=1, refresh_corp_codes=True)] == [
        "corp_codes",
        "filings",
        "financials",
    ]
