from datetime import date

import psycopg

from kstock import db
from kstock.companies.reference import load_companies, seed
from kstock.db.migrate import applied, migrate

TABLES = {
    "users",
    "industries",
    "companies",
    "market_indices",
    "favorites",
    "comparisons",
    "comparison_members",
    "portfolio_holdings",
    "financials",
    "reports",
    "news",
    "news_companies",
    "news_industries",
    "stock_ticks",
    "ohlcv_1m",
    "ohlcv_15m",
    "ohlcv_1h",
    "ohlcv_1d",
    "index_data",
    "themes",
    "theme_members",
    "scan_runs",
    "scan_signals",
    "ai_analyses",
}


def test_migrations_apply_once_on_an_empty_database(empty_database):
    first = migrate(empty_database)
    second = migrate(empty_database)
    assert first[0] == "0001_schema" and first == sorted(first)
    assert second == []
    assert applied(empty_database) == first
    with psycopg.connect(empty_database) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
    assert TABLES <= tables


def test_tick_partitions_are_created_and_dropped_by_day(empty_database):
    migrate(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        assert conn.execute("SELECT ensure_tick_partitions(%s, 3)", (date(2026, 1, 5),)).fetchone()[0] == 3
        assert conn.execute("SELECT ensure_tick_partitions(%s, 3)", (date(2026, 1, 5),)).fetchone()[0] == 0
        conn.execute(
            "INSERT INTO stock_ticks (time, symbol, price, volume, stream_id) VALUES "
            "('2026-01-05T00:30:00Z', '005930', 75000, 10, '1-0'), "
            "('2026-01-07T06:29:59Z', '005930', 75100, 5, '2-0')"
        )
        # a trade outside every partition is refused, not silently lost
        try:
            conn.execute(
                "INSERT INTO stock_ticks (time, symbol, price, volume, stream_id) "
                "VALUES ('2026-02-01T00:00:00Z', '005930', 1, 1, '3-0')"
            )
            raise AssertionError("insert without a partition succeeded")
        except psycopg.errors.CheckViolation:
            pass
        assert conn.execute("SELECT drop_tick_partitions_before(%s)", (date(2026, 1, 7),)).fetchone()[0] == 2
        rows = conn.execute("SELECT stream_id FROM stock_ticks").fetchall()
    assert rows == [("2-0",)]


def test_seed_twice_leaves_no_duplicates_and_keeps_refreshed_market_data(empty_database):
    migrate(empty_database)
    with db.connect(empty_database) as conn:
        first = seed(conn)
        conn.execute("UPDATE companies SET market_cap = 123 WHERE symbol = '005930'")
        conn.commit()
        second = seed(conn)
        counts = conn.execute("SELECT count(*) AS n, count(DISTINCT symbol) AS d FROM companies").fetchone()
        cap = conn.execute("SELECT market_cap FROM companies WHERE symbol = '005930'").fetchone()["market_cap"]
        indices = conn.execute("SELECT code, kis_code FROM market_indices ORDER BY kis_code").fetchall()
    assert first == second
    assert counts["n"] == counts["d"] == len(load_companies())
    assert cap == 123
    assert [(i["code"], i["kis_code"]) for i in indices][:2] == [("KOSPI", "0001"), ("KOSDAQ", "1001")]
