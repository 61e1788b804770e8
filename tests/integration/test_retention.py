"""PRD retention: ticks 7 days (whole partitions), 1m 30 days, 15m 90 days, 1h a year, 1d forever."""

from datetime import UTC, datetime, timedelta

import psycopg

from kstock.db.migrate import migrate
from kstock.ticks.maintenance import apply_retention, ensure_partitions


def test_retention_removes_exactly_what_it_should(empty_database):
    migrate(empty_database)
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.row_factory = psycopg.rows.dict_row
        conn.execute("SELECT ensure_tick_partitions(%s, 10)", ((now - timedelta(days=9)).date(),))
        for days in (9, 8, 7, 6, 0):
            conn.execute(
                "INSERT INTO stock_ticks (time, symbol, price, volume, stream_id) VALUES (%s, '005930', 1, 1, %s)",
                (now - timedelta(days=days), f"{days}-0:0"),
            )
        ages = {"ohlcv_1m": (31, 29), "ohlcv_15m": (91, 89), "ohlcv_1h": (366, 364), "ohlcv_1d": (4000, 1)}
        for table, (old, young) in ages.items():
            for days in (old, young):
                conn.execute(
                    f"INSERT INTO {table} (symbol, bucket, open, high, low, close, volume, amount, "
                    "trade_count) VALUES ('005930', %s, 1, 1, 1, 1, 1, 1, 1)",
                    (now - timedelta(days=days),),
                )
        result = apply_retention(conn, now)
        # Whole day partitions go: the days 9 and 8 back. The day 7 back (2026-11-13) still holds
        # hours younger than 7 days, so it stays until tomorrow: no tick younger than 7 days is lost.
        assert result.tick_partitions_dropped == 2
        ticks = [r["stream_id"] for r in conn.execute("SELECT stream_id FROM stock_ticks ORDER BY time")]
        assert ticks == ["7-0:0", "6-0:0", "0-0:0"]
        assert result.bars_deleted == {"ohlcv_1m": 1, "ohlcv_15m": 1, "ohlcv_1h": 1}
        for table, (old, young) in ages.items():
            kept = [r["bucket"] for r in conn.execute(f"SELECT bucket FROM {table} ORDER BY bucket")]
            expected = (
                [now - timedelta(days=young)]
                if table != "ohlcv_1d"
                else [now - timedelta(days=old), now - timedelta(days=young)]
            )
            assert kept == expected, table
        # partitions ahead exist for the writer; a second run removes nothing more
        ensure_partitions(conn, today=now.date())
        assert ensure_partitions(conn, today=now.date()) == 0
        again = apply_retention(conn, now)
        assert again.tick_partitions_dropped == 0 and set(again.bars_deleted.values()) == {0}
