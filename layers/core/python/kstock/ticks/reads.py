"""``GET /companies/{id}/ohlcv``: a company's bars of one interval, the open bucket included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from kstock import db
from kstock.companies.detail import company_row
from kstock.errors import InvalidRequest
from kstock.schemas import CamelModel
from kstock.ticks.ohlcv import chart_points

Interval = Literal["1m", "15m", "1h", "1d"]

# Without start: how far back a chart of each interval reaches by default, and at most.
DEFAULT_SPAN = {"1m": timedelta(days=1), "15m": timedelta(days=7), "1h": timedelta(days=30), "1d": timedelta(days=365)}
MAX_SPAN = {
    "1m": timedelta(days=7),
    "15m": timedelta(days=90),
    "1h": timedelta(days=366),
    "1d": timedelta(days=366 * 30),
}


class OhlcvBar(CamelModel):
    time: int  # bucket start, unix seconds
    open: float
    high: float
    low: float
    close: float
    volume: int
    amount: float | None  # traded value (KRW); null where the source does not say


# Times a chart can ask about. Outside them the span arithmetic (end - 30 years, bucket origins)
# leaves datetime's range: 0001-01-01 was an OverflowError and a 500 (issue 17, finding 8).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)


def parse_time(raw: str | None, name: str) -> datetime | None:
    """ISO-8601 (a time without a zone is UTC, as every time on the wire) or unix seconds,
    between 1900 and 2100."""
    if raw is None or raw == "":
        return None
    try:
        if raw.isdigit():
            moment = datetime.fromtimestamp(int(raw), UTC)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        in_range = EARLIEST <= moment <= LATEST
    except (ValueError, OverflowError, OSError):
        raise InvalidRequest(f"{name} must be an ISO-8601 time or unix seconds, not {raw!r}") from None
    if not in_range:
        raise InvalidRequest(f"{name} must lie between 1900 and 2100, not {raw!r}")
    return moment


def company_bars(
    company_id: int, interval: Interval, start: datetime | None, end: datetime | None, now: datetime | None = None
) -> list[dict[str, float | int | None]]:
    """The bars as :class:`OhlcvBar`-shaped dicts (a model per bar would cost more than the query)."""
    now = now or datetime.now(UTC)
    end = end or now
    start = start or end - DEFAULT_SPAN[interval]
    if start > end:
        raise InvalidRequest("start is after end")
    if end - start > MAX_SPAN[interval]:
        raise InvalidRequest(f"at most {MAX_SPAN[interval].days} days of {interval} bars per request")
    with db.read() as conn:
        return chart_points(conn, company_row(conn, company_id)["symbol"], interval, start, end, now=now)
