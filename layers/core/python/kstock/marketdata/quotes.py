"""The last known price of companies, best source first.

1. ``live``: ``price:{symbol}`` in Redis, written by the streamer (short TTL);
2. ``bar``: the newest stored bar (1-minute, else daily), its change against the previous
   trading day's close;
3. ``quote``: the KIS quote kept by the market-data refresh (``company_quotes``).

Nothing is invented: with none of these a company has no price (``None``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

from psycopg.rows import DictRow
from redis.exceptions import RedisError

from kstock import cache, db, keys
from kstock.logs import get_logger
from kstock.market.calendar import KST
from kstock.schemas import CamelModel

log = get_logger("kstock.marketdata")

Source = Literal["live", "bar", "quote"]
DAILY_CLOSE = time(15, 30)


class LastPrice(CamelModel):
    price: float
    change: float | None = None
    change_percent: float | None = None
    time: datetime | None = None
    source: Source


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _parse_live(raw: str | None) -> LastPrice | None:
    if not raw:
        return None
    try:
        tick = json.loads(raw)
        price = _num(tick.get("price"))
        if price is None or price <= 0:
            return None
        stamp = tick.get("timestamp")
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else None
        # the key also holds quotes the polling endpoint fetched from KIS REST: live only from the stream
        return LastPrice(
            price=price,
            change=_num(tick.get("change")),
            change_percent=_num(tick.get("changePercent")),
            time=moment,
            source="live" if tick.get("source") == "ws" else "quote",
        )
    except (ValueError, TypeError, AttributeError):
        log.warning("unreadable live price", extra={"value": raw[:100]})
        return None


def live_prices(symbols: list[str]) -> dict[str, LastPrice]:
    """Prices the streamer published lately (empty when Redis is unavailable: other sources remain)."""
    if not symbols:
        return {}
    try:
        # redis-py types commands as ``Awaitable | Any`` (sync and async share signatures)
        raws = cast(list[str | None], cache.client().mget([keys.latest_price(s) for s in symbols]))
    except RedisError as exc:
        log.warning("live prices unavailable", extra={"error": type(exc).__name__})
        return {}
    found = {}
    for symbol, raw in zip(symbols, raws, strict=True):
        parsed = _parse_live(raw)
        if parsed is not None:
            found[symbol] = parsed
    return found


_STORED_SQL = """
    SELECT s.symbol,
           m.bucket AS m_bucket, m.close AS m_close,
           (SELECT p.close FROM ohlcv_1d p
            WHERE p.symbol = s.symbol
              AND p.bucket < (date_trunc('day', m.bucket AT TIME ZONE 'Asia/Seoul') AT TIME ZONE 'Asia/Seoul')
            ORDER BY p.bucket DESC LIMIT 1) AS m_prev,
           d.bucket AS d_bucket, d.close AS d_close,
           (SELECT p.close FROM ohlcv_1d p WHERE p.symbol = s.symbol AND p.bucket < d.bucket
            ORDER BY p.bucket DESC LIMIT 1) AS d_prev,
           q.price AS q_price, q.change AS q_change, q.change_percent AS q_change_percent, q.quoted_at
    FROM unnest(%(symbols)s::text[]) AS s(symbol)
    LEFT JOIN LATERAL (SELECT bucket, close FROM ohlcv_1m WHERE symbol = s.symbol
                       ORDER BY bucket DESC LIMIT 1) m ON true
    LEFT JOIN LATERAL (SELECT bucket, close FROM ohlcv_1d WHERE symbol = s.symbol
                       ORDER BY bucket DESC LIMIT 1) d ON true
    LEFT JOIN companies c ON c.symbol = s.symbol
    LEFT JOIN company_quotes q ON q.company_id = c.id
"""


def _bar_price(close: Decimal, previous: Decimal | None, as_of: datetime) -> LastPrice:
    change = change_percent = None
    if previous:
        change = float(close - previous)
        change_percent = round(change / float(previous) * 100, 2)
    return LastPrice(
        price=float(close), change=change, change_percent=change_percent, time=as_of.astimezone(UTC), source="bar"
    )


def _candidates(row: DictRow) -> list[tuple[datetime, LastPrice]]:
    found: list[tuple[datetime, LastPrice]] = []
    if row["m_bucket"] is not None:  # a 1-minute bar is as recent as its end
        as_of = row["m_bucket"] + timedelta(minutes=1)
        found.append((as_of, _bar_price(row["m_close"], row["m_prev"], as_of)))
    if row["d_bucket"] is not None:  # a daily bar (bucket 00:00 KST) as recent as that day's close
        as_of = datetime.combine(row["d_bucket"].astimezone(KST).date(), DAILY_CLOSE, tzinfo=KST)
        found.append((as_of, _bar_price(row["d_close"], row["d_prev"], as_of)))
    if row["quoted_at"] is not None:
        found.append(
            (
                row["quoted_at"],
                LastPrice(
                    price=float(row["q_price"]),
                    change=_num(row["q_change"]),
                    change_percent=_num(row["q_change_percent"]),
                    time=row["quoted_at"],
                    source="quote",
                ),
            )
        )
    return found


def stored_prices(symbols: list[str]) -> dict[str, LastPrice]:
    """The newest stored price of each symbol (bars or the refresh's KIS quote)."""
    if not symbols:
        return {}
    with db.read() as conn:
        rows = conn.execute(_STORED_SQL, {"symbols": symbols}).fetchall()
    found: dict[str, LastPrice] = {}
    for row in rows:
        candidates = _candidates(row)
        if candidates:
            # ties (a 1m bar and the daily bar of the same close) go to the earlier, finer source
            found[row["symbol"]] = max(candidates, key=lambda c: c[0])[1]
    return found


def last_prices(symbols: Iterable[str]) -> dict[str, LastPrice]:
    """The best known price of each symbol (symbols without any price are absent)."""
    wanted = list(dict.fromkeys(symbols))
    found = live_prices(wanted)
    missing = [s for s in wanted if s not in found]
    found.update(stored_prices(missing))
    return found
