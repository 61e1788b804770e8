"""Loading index data from KIS into ``index_data``.

Each run stores the current value of every index (inquire-index-price) as today's daily row and,
during a KRX session, as the current minute's row; and the recent daily chart (index chart
FHKUP03500100), going back ``history_days`` the first time an index has no daily rows. Rows are
upserted: running again changes nothing but the figures that moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from kstock import db
from kstock.kis.errors import KisError
from kstock.kis.models import IndexBar, IndexQuote
from kstock.kis.rest import KisRestClient
from kstock.logs import get_logger
from kstock.market.calendar import KST, Session, is_trading_day, session_at
from kstock.marketdata.refresh import SYSTEMIC

log = get_logger("kstock.indices")

RECENT_DAYS = 10  # daily rows re-read on a routine run (corrections, missed runs)
SESSION_MINUTES = {Session.OPENING_AUCTION, Session.REGULAR, Session.CLOSING_AUCTION}


@dataclass
class IndexLoad:
    daily_rows: int = 0
    minute_rows: int = 0
    failed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {"dailyRows": self.daily_rows, "minuteRows": self.minute_rows, "failed": self.failed}


def day_bucket(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=KST)


_UPSERT = """
    INSERT INTO index_data (index_code, interval, time, open, high, low, close, volume, amount)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (index_code, interval, time) DO UPDATE SET
        open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
        volume = EXCLUDED.volume, amount = COALESCE(EXCLUDED.amount, index_data.amount)
"""


def _bar_row(code: str, bar: IndexBar) -> tuple[object, ...]:
    return (
        code,
        "1d",
        day_bucket(bar.day),
        bar.open or None,
        bar.high or None,
        bar.low or None,
        bar.close,
        bar.volume,
        bar.traded_value,
    )


def _quote_rows(code: str, quote: IndexQuote, moment: datetime) -> list[tuple[object, ...]]:
    local = moment.astimezone(KST)
    rows: list[tuple[object, ...]] = []
    if is_trading_day(local.date()) and session_at(moment) != Session.CLOSED:
        rows.append(
            (
                code,
                "1d",
                day_bucket(local.date()),
                quote.open or None,
                quote.high or None,
                quote.low or None,
                quote.value,
                quote.volume,
                quote.traded_value,
            )
        )
    if session_at(moment) in SESSION_MINUTES:
        minute = moment.astimezone(UTC).replace(second=0, microsecond=0)
        rows.append((code, "1m", minute, None, None, None, quote.value, quote.volume, quote.traded_value))
    return rows


def load(client: KisRestClient, *, history_days: int, now: datetime | None = None) -> IndexLoad:
    """Store every index's current value and recent daily bars from KIS."""
    moment = now or datetime.now(UTC)
    today = moment.astimezone(KST).date()
    result = IndexLoad()
    with db.transaction() as conn:
        indices = conn.execute(
            "SELECT m.code, m.kis_code, EXISTS (SELECT 1 FROM index_data d WHERE d.index_code = m.code "
            "AND d.interval = '1d') AS has_history FROM market_indices m ORDER BY m.code"
        ).fetchall()
    for index in indices:
        code = index["code"]
        start = today - timedelta(days=RECENT_DAYS if index["has_history"] else history_days)
        try:
            bars = client.index_chart(index["kis_code"], start, today)
            quote = client.index_price(index["kis_code"])
        except KisError as exc:
            log.warning("index data unavailable", extra={"index": code, "error": str(exc)})
            result.failed.append(code)
            if isinstance(exc, SYSTEMIC):
                break  # KIS as a whole is failing: the next run tries again
            continue
        daily = [_bar_row(code, b) for b in bars if b.close > 0]
        live = _quote_rows(code, quote, moment)
        with db.transaction() as conn, conn.cursor() as cur:
            cur.executemany(_UPSERT, daily + live)
        result.daily_rows += len(daily) + sum(1 for r in live if r[1] == "1d")
        result.minute_rows += sum(1 for r in live if r[1] == "1m")
    return result
