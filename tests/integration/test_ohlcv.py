"""OHLCV roll-ups equal a straightforward recomputation from the ticks; reads include the open bucket."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kstock.db.migrate import migrate
from kstock.ticks.ohlcv import INTERVALS, TABLES, bars, bucket_start, rollup

BASE = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 08:30 KST: buckets cross KST and UTC day lines


@pytest.fixture(scope="module")
def conn(services):
    name = "ohlcv_property"
    admin = services["DATABASE_URL"]
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    url = admin.replace("/postgres?", f"/{name}?")
    migrate(url)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SELECT ensure_tick_partitions(%s, 3)", (BASE.date(),))
        yield c


def load(conn, ticks):
    conn.execute("TRUNCATE stock_ticks, ohlcv_1m, ohlcv_15m, ohlcv_1h, ohlcv_1d")
    rows = [
        (BASE + timedelta(milliseconds=ms), symbol, price, volume, f"{i:08d}-0:0")
        for i, (ms, symbol, price, volume) in enumerate(ticks)
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO stock_ticks (time, symbol, price, volume, stream_id) VALUES (%s,%s,%s,%s,%s)", rows
        )
    return rows


def expected(rows, interval, until=None):
    groups = defaultdict(list)
    for time, symbol, price, volume, _stream_id in sorted(rows, key=lambda r: (r[0], r[4])):
        if until is None or time <= until:
            groups[(symbol, bucket_start(time, interval))].append((price, volume))
    return {
        key: (
            trades[0][0],
            max(p for p, _ in trades),
            min(p for p, _ in trades),
            trades[-1][0],
            sum(v for _, v in trades),
            sum(p * v for p, v in trades),
            len(trades),
        )
        for key, trades in groups.items()
    }


tick = st.tuples(
    st.integers(0, 3 * 3600 * 1000), st.sampled_from(["005930", "000660"]), st.integers(1000, 2000), st.integers(1, 500)
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ticks=st.lists(tick, min_size=1, max_size=80))
def test_rollups_equal_a_recomputation_from_ticks(conn, ticks):
    rows = load(conn, ticks)
    now = BASE + timedelta(hours=3, minutes=1)
    rollup(conn, now=now, lookback_minutes=200)
    rollup(conn, now=now, lookback_minutes=200)  # idempotent
    for interval, table in TABLES.items():
        stored = conn.execute(
            f"SELECT symbol, bucket, open, high, low, close, volume, amount, trade_count FROM {table}"
        ).fetchall()
        actual = {(s, b): (int(o), int(h), int(lo), int(c), v, Decimal(a), n) for s, b, o, h, lo, c, v, a, n in stored}
        assert actual == expected(rows, interval), interval


def test_reads_include_the_open_bucket_computed_live(conn):
    ticks = [
        (0, "005930", 1000, 1),
        (61_000, "005930", 1010, 2),
        (125_000, "005930", 990, 3),
        (130_000, "005930", 1020, 4),
        (3_599_000, "005930", 1005, 5),
    ]
    rows = load(conn, ticks)
    now = BASE + timedelta(minutes=2, seconds=20)  # inside minute 2, before the last two ticks are rolled up
    rollup(conn, now=BASE + timedelta(minutes=2, seconds=1), lookback_minutes=30)
    for interval in INTERVALS:
        got = bars(conn, "005930", interval, BASE - timedelta(days=1), BASE + timedelta(days=1), now=now)
        want = expected(rows, interval, until=now)
        assert [(b.time, b.open, b.high, b.low, b.close, b.volume) for b in got] == [
            (bucket, o, h, lo, c, v) for (_, bucket), (o, h, lo, c, v, _a, _n) in sorted(want.items())
        ], interval
    # the last bar of 1m is the open minute: exactly the ticks since its start
    last = bars(conn, "005930", "1m", BASE, BASE + timedelta(hours=1), now=now)[-1]
    assert (last.time, last.open, last.close, last.volume) == (BASE + timedelta(minutes=2), 990, 1020, 7)
