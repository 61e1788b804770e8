"""OHLCV bars: roll-ups from ticks and reads that include the still-open bucket.

Roll-up (every minute): 1m bars are recomputed from the raw ticks of the last few minutes (late
ticks included), then the 15m, 1h and 1d bars touching those minutes are recomputed from the 1m
bars. Every statement is an idempotent upsert of whole buckets, so a re-run changes nothing.
Open and close follow trade order: (time, stream entry), the order the streamer received them.

1d buckets start at 00:00 KST (a KRX trading day); the others align to UTC, which for whole hours
and quarters is the same as KST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import DictRow, RowFactory, dict_row, tuple_row

INTERVALS = {
    "1m": timedelta(minutes=1),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
TABLES = {"1m": "ohlcv_1m", "15m": "ohlcv_15m", "1h": "ohlcv_1h", "1d": "ohlcv_1d"}
ORIGIN_UTC = datetime(2000, 1, 1, tzinfo=UTC)
ORIGIN_KST = datetime(1999, 12, 31, 15, tzinfo=UTC)  # 2000-01-01 00:00 KST


def origin(interval: str) -> datetime:
    return ORIGIN_KST if interval == "1d" else ORIGIN_UTC


def bucket_start(moment: datetime, interval: str) -> datetime:
    """The start of the bucket of ``interval`` containing ``moment`` (as Postgres' date_bin)."""
    step, base = INTERVALS[interval], origin(interval)
    return base + ((moment - base) // step) * step


_UPSERT = """
    ON CONFLICT (symbol, bucket) DO UPDATE SET
        open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
        volume = EXCLUDED.volume, amount = EXCLUDED.amount, trade_count = EXCLUDED.trade_count
"""

_MINUTES_FROM_TICKS = (
    """
    INSERT INTO ohlcv_1m (symbol, bucket, open, high, low, close, volume, amount, trade_count)
    SELECT symbol, date_bin('1 minute', time, %(origin)s) AS bucket,
           (array_agg(price ORDER BY time, stream_id))[1], max(price), min(price),
           (array_agg(price ORDER BY time DESC, stream_id DESC))[1],
           sum(volume), sum(price * volume), count(*)
    FROM stock_ticks WHERE time >= %(since)s AND time < %(until)s
    GROUP BY 1, 2
"""
    + _UPSERT
)

_BARS_FROM_MINUTES = (
    """
    INSERT INTO {table} (symbol, bucket, open, high, low, close, volume, amount, trade_count)
    SELECT symbol, date_bin(%(step)s, bucket, %(origin)s) AS b,
           (array_agg(open ORDER BY bucket))[1], max(high), min(low), (array_agg(close ORDER BY bucket DESC))[1],
           sum(volume), sum(amount), sum(trade_count)
    FROM ohlcv_1m WHERE bucket >= %(since)s AND bucket < %(until)s
    GROUP BY 1, 2
"""
    + _UPSERT
)


@dataclass(frozen=True)
class RollupResult:
    since: datetime
    rows: dict[str, int]


def rollup(conn: psycopg.Connection[Any], now: datetime | None = None, lookback_minutes: int = 10) -> RollupResult:
    """Recompute the buckets touched by the last ``lookback_minutes`` of ticks, in one transaction."""
    now = now or datetime.now(UTC)
    since = bucket_start(now - timedelta(minutes=lookback_minutes), "1m")
    until = bucket_start(now, "1m") + INTERVALS["1m"]
    rows: dict[str, int] = {}
    with conn.transaction():
        rows["1m"] = conn.execute(_MINUTES_FROM_TICKS, {"origin": ORIGIN_UTC, "since": since, "until": until}).rowcount
        for interval in ("15m", "1h", "1d"):
            # whole buckets: every minute of a bucket that a recomputed minute belongs to
            start = bucket_start(since, interval)
            end = bucket_start(now, interval) + INTERVALS[interval]
            sql = _BARS_FROM_MINUTES.format(table=TABLES[interval])
            rows[interval] = conn.execute(
                sql, {"step": INTERVALS[interval], "origin": origin(interval), "since": start, "until": end}
            ).rowcount
    return RollupResult(since, rows)


@dataclass
class Bar:
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    amount: Decimal | None

    def merge(self, other: Bar) -> Bar:
        """``self`` followed by ``other`` (later) as one bar."""
        return Bar(
            self.time,
            self.open,
            max(self.high, other.high),
            min(self.low, other.low),
            other.close,
            self.volume + other.volume,
            None if self.amount is None or other.amount is None else self.amount + other.amount,
        )


def _bar(row: DictRow) -> Bar:
    return Bar(row["bucket"], row["open"], row["high"], row["low"], row["close"], int(row["volume"]), row["amount"])


def _live_bar(cur: psycopg.Cursor[DictRow], symbol: str, interval: str, start: datetime, now: datetime) -> Bar | None:
    """The still-open bucket: stored 1m bars of its completed part, raw ticks for the rest."""
    cut = start
    parts: list[Bar] = []
    if interval != "1m":
        minutes = cur.execute(
            "SELECT bucket, open, high, low, close, volume, amount FROM ohlcv_1m "
            "WHERE symbol = %s AND bucket >= %s AND bucket < %s ORDER BY bucket",
            (symbol, start, now),
        ).fetchall()
        if minutes:
            # the newest stored minute may be partial: take it (and everything after) from ticks
            cut = minutes[-1]["bucket"]
            parts = [_bar(m) for m in minutes[:-1]]
    row = cur.execute(
        """
        SELECT min(time) AS bucket, (array_agg(price ORDER BY time, stream_id))[1] AS open, max(price) AS high,
               min(price) AS low, (array_agg(price ORDER BY time DESC, stream_id DESC))[1] AS close,
               sum(volume) AS volume, sum(price * volume) AS amount
        FROM stock_ticks WHERE symbol = %s AND time >= %s AND time <= %s
        """,
        (symbol, cut, now),
    ).fetchone()
    if row is not None and row["open"] is not None:  # aggregates answer one row, of NULLs when no tick
        parts.append(_bar(row))
    if not parts:
        return None
    bar = parts[0]
    for part in parts[1:]:
        bar = bar.merge(part)
    bar.time = start
    return bar


_BAR_COLUMNS = "bucket, open, high, low, close, volume, amount"
# the same bars as chart points: Postgres turns them into epoch seconds and floats far faster than
# Python builds Decimals and datetimes and converts those again (a chart has hundreds of bars)
_POINT_COLUMNS = (
    "extract(epoch FROM bucket)::bigint, open::float8, high::float8, low::float8, close::float8, volume, amount::float8"
)
POINT_KEYS = ("time", "open", "high", "low", "close", "volume", "amount")


def _read(
    conn: psycopg.Connection[Any],
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    now: datetime | None,
    columns: str,
    row_factory: RowFactory[Any],
) -> tuple[list[Any], Bar | None]:
    """Stored bars of ``[start, end]`` (rows of ``columns``) and the open bucket when it is in range."""
    now = now or datetime.now(UTC)
    open_start = bucket_start(now, interval)
    with conn.cursor(row_factory=row_factory) as cur:
        stored = cur.execute(
            f"SELECT {columns} FROM {TABLES[interval]} "
            "WHERE symbol = %s AND bucket >= %s AND bucket <= %s AND bucket < %s ORDER BY bucket",
            (symbol, bucket_start(start, interval), end, open_start),
        ).fetchall()
    live = None
    if start <= now and open_start <= end:
        with conn.cursor(row_factory=dict_row) as cur:
            live = _live_bar(cur, symbol, interval, open_start, now)
    return stored, live


def bars(
    conn: psycopg.Connection[Any],
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> list[Bar]:
    """Bars of ``[start, end]`` in time order, the open bucket computed live so a chart is never behind."""
    stored, live = _read(conn, symbol, interval, start, end, now, _BAR_COLUMNS, dict_row)
    return [_bar(r) for r in stored] + ([live] if live is not None else [])


def chart_points(
    conn: psycopg.Connection[Any],
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> list[dict[str, float | int | None]]:
    """:func:`bars` as chart points: ``time`` in unix seconds, prices and amount as floats."""
    stored, live = _read(conn, symbol, interval, start, end, now, _POINT_COLUMNS, tuple_row)
    points = [dict(zip(POINT_KEYS, row, strict=True)) for row in stored]
    if live is not None:
        points.append(
            {
                "time": int(live.time.timestamp()),
                "open": float(live.open),
                "high": float(live.high),
                "low": float(live.low),
                "close": float(live.close),
                "volume": live.volume,
                "amount": None if live.amount is None else float(live.amount),
            }
        )
    return points
