"""KOSPI / KOSDAQ history and latest value, from ``index_data``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from kstock import db
from kstock.errors import NotFound
from kstock.market.calendar import KST
from kstock.schemas import CamelModel
from kstock.validation import QueryModel

MAX_BARS = 5000
MIN_YEAR, MAX_YEAR = 1980, 2200
DEFAULT_DAYS = {"1d": 365, "1m": 1}
DATE_OR_TIME = "an ISO 8601 date (2026-01-05, KST day) or date-time with offset (2026-01-05T09:00:00+09:00)"


def _moment(text: str, *, end: bool) -> datetime:
    """A query bound: a date means that KST day (its start, or for ``end`` its end)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if not MIN_YEAR <= day.year <= MAX_YEAR:
                raise ValueError
            return datetime.combine(day + timedelta(days=1) if end else day, time(0), tzinfo=KST)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"must be {DATE_OR_TIME}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return moment


class IndexQuery(QueryModel):
    interval: Literal["1d", "1m"] = Field("1d", description="Bar interval: 1d (daily) or 1m (minute).")
    start: str | None = Field(
        None, max_length=40, description=f"First moment: {DATE_OR_TIME}. Default: a year back (1d) or a day back (1m)."
    )
    end: str | None = Field(None, max_length=40, description=f"Last moment: {DATE_OR_TIME}. Default: now.")

    @field_validator("start", "end")
    @classmethod
    def _parse(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _moment(value, end=info.field_name == "end")
        return value

    @model_validator(mode="after")
    def _order(self) -> IndexQuery:
        start, end = self.bounds()
        if end < start:
            raise ValueError("end is before start")
        return self

    def bounds(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        end = _moment(self.end, end=True) if self.end else (now or datetime.now(UTC))
        start = _moment(self.start, end=False) if self.start else end - timedelta(days=DEFAULT_DAYS[self.interval])
        return start, end


class IndexBarOut(CamelModel):
    time: int = Field(description="Bar start, unix seconds (1d bars: 00:00 KST of the day).")
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float
    volume: int | None = None
    amount: int | None = None


class Latest(CamelModel):
    value: float
    time: int = Field(description="Unix seconds of the value (its bar start).")
    previous_close: float | None = None
    change: float | None = None
    change_percent: float | None = None


class IndexSeries(CamelModel):
    index: Literal["KOSPI", "KOSDAQ"]
    name: str
    interval: Literal["1d", "1m"]
    latest: Latest | None = Field(None, description="The newest stored value (null before the first load).")
    bars: list[IndexBarOut] = Field(description=f"Ascending; at most {MAX_BARS} (the newest).")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def series(code: Literal["KOSPI", "KOSDAQ"], query: IndexQuery) -> IndexSeries:
    start, end = query.bounds()
    with db.read() as conn:
        head = conn.execute("SELECT code, name FROM market_indices WHERE code = %s", (code,)).fetchone()
        if head is None:
            raise NotFound(f"index {code} is not loaded")
        rows = conn.execute(
            """
            SELECT * FROM (
                SELECT time, open::float, high::float, low::float, close::float, volume, amount FROM index_data
                WHERE index_code = %s AND interval = %s AND time >= %s AND time < %s
                ORDER BY time DESC LIMIT %s) newest
            ORDER BY time
            """,
            (code, query.interval, start, end, MAX_BARS),
        ).fetchall()
        # the newest of each interval is one primary-key probe; the newer wins, a minute on a tie
        latest = conn.execute(
            """
            SELECT time, close FROM (
                (SELECT time, close::float, 0 AS tie FROM index_data WHERE index_code = %(code)s AND interval = '1m'
                 ORDER BY time DESC LIMIT 1)
                UNION ALL
                (SELECT time, close::float, 1 FROM index_data WHERE index_code = %(code)s AND interval = '1d'
                 ORDER BY time DESC LIMIT 1)) newest
            ORDER BY time DESC, tie LIMIT 1
            """,
            {"code": code},
        ).fetchone()
        previous = None
        if latest is not None:
            midnight = datetime.combine(latest["time"].astimezone(KST).date(), time(0), tzinfo=KST)
            previous = conn.execute(
                "SELECT close::float FROM index_data WHERE index_code = %s AND interval = '1d' AND time < %s "
                "ORDER BY time DESC LIMIT 1",
                (code, midnight),
            ).fetchone()
    latest_out = None
    if latest is not None:
        prev_close = previous["close"] if previous else None
        change = round(latest["close"] - prev_close, 2) if prev_close else None
        latest_out = Latest(
            value=latest["close"],
            time=_epoch(latest["time"]),
            previous_close=prev_close,
            change=change,
            change_percent=round(change / prev_close * 100, 2) if change is not None else None,
        )
    bars = [IndexBarOut(**{**r, "time": _epoch(r["time"])}) for r in rows]
    return IndexSeries(index=code, name=head["name"], interval=query.interval, latest=latest_out, bars=bars)
