"""Daily history from KIS (period chart FHKST03010100, paged) into ``ohlcv_1d``.

One request per symbol and date range, idempotent: a day's bar is upserted, so a retried or
repeated request leaves the same rows. The chart's summary also refreshes the company's listed
shares and market cap (KIS reports the cap in units of 100 million won).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from pydantic import BaseModel, field_validator, model_validator

from kstock.market.calendar import KST
from kstock.market.codes import classify

if TYPE_CHECKING:  # the caller brings the client: queueing a request (kstock.loads) must not load it
    from kstock.kis.rest import KisRestClient

MAX_SPAN_DAYS = 3660


class BackfillRequest(BaseModel):
    symbol: str
    start: date
    end: date
    job: str | None = None  # groups the requests of one `kstock backfill` run (progress)

    @field_validator("symbol")
    @classmethod
    def _code(cls, value: str) -> str:
        return classify(value).code

    @model_validator(mode="after")
    def _range(self) -> BackfillRequest:
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.end - self.start).days > MAX_SPAN_DAYS:
            raise ValueError(f"a request covers at most {MAX_SPAN_DAYS} days")
        return self


def day_bucket(day: date) -> datetime:
    """The ``ohlcv_1d`` bucket of a trading day: 00:00 KST."""
    return datetime.combine(day, time(0), tzinfo=KST)


def backfill_daily(conn: psycopg.Connection[Any], client: KisRestClient, request: BackfillRequest) -> int:
    """Load the request's daily bars; returns how many bars were written."""
    chart = client.period_chart(request.symbol, request.start, request.end)
    rows = [
        (request.symbol, day_bucket(b.day), b.open, b.high, b.low, b.close, b.volume, b.traded_value)
        for b in chart.bars
        if b.open and b.high and b.low and b.close
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO ohlcv_1d (symbol, bucket, open, high, low, close, volume, amount, trade_count)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL)
            ON CONFLICT (symbol, bucket) DO UPDATE SET
                open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
                volume = EXCLUDED.volume, amount = COALESCE(EXCLUDED.amount, ohlcv_1d.amount)
            """,
            rows,
        )
        summary = chart.summary
        if summary is not None and (summary.listed_shares or summary.market_cap_100m):
            cur.execute(
                """
                UPDATE companies SET listed_shares = COALESCE(%s, listed_shares),
                       market_cap = COALESCE(%s, market_cap), market_data_at = now()
                WHERE symbol = %s
                """,
                (
                    summary.listed_shares,
                    summary.market_cap_100m * 100_000_000 if summary.market_cap_100m else None,
                    request.symbol,
                ),
            )
    return len(rows)


def split_range(start: date, end: date, span_days: int = 365) -> list[tuple[date, date]]:
    """Cut a long range into requests of at most ``span_days`` (short, retryable messages)."""
    pieces, cursor = [], start
    while cursor <= end:
        piece_end = min(end, cursor + timedelta(days=span_days - 1))
        pieces.append((cursor, piece_end))
        cursor = piece_end + timedelta(days=1)
    return pieces
