"""The KRX trading calendar: trading days, sessions and their hours in KST.

Closed days for 2025-2027 are listed below (weekday closures only; weekends are always closed):
Korean public holidays with their substitute days, election days, Labor Day (May 1) and the
year-end closing (Dec 31). Source: the XKRX calendar of python-holidays, checked by hand against
KRX's published closures. Outside the table's years only weekends are known to be closed, and
:func:`calendar_covers` says so.

Sessions on a regular day (KST): opening auction 08:30-09:00, regular 09:00-15:30 (closing
auction from 15:20), after-hours closing price 15:40-16:00, after-hours single price 16:00-18:00.
KRX opens one hour late on the first trading day of a year (10:00), and on the national college
entrance exam (수능) day the whole day shifts one hour later (10:00-16:30).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")

KRX_HOLIDAYS: dict[date, str] = {
    date(2025, 1, 1): "신정",
    date(2025, 1, 27): "임시공휴일",
    date(2025, 1, 28): "설날 연휴",
    date(2025, 1, 29): "설날",
    date(2025, 1, 30): "설날 연휴",
    date(2025, 3, 3): "삼일절 대체공휴일",
    date(2025, 5, 1): "근로자의 날",
    date(2025, 5, 5): "어린이날·부처님오신날",
    date(2025, 5, 6): "대체공휴일",
    date(2025, 6, 3): "제21대 대통령 선거",
    date(2025, 6, 6): "현충일",
    date(2025, 8, 15): "광복절",
    date(2025, 10, 3): "개천절",
    date(2025, 10, 6): "추석",
    date(2025, 10, 7): "추석 연휴",
    date(2025, 10, 8): "추석 대체공휴일",
    date(2025, 10, 9): "한글날",
    date(2025, 12, 25): "성탄절",
    date(2025, 12, 31): "연말 휴장일",
    date(2026, 1, 1): "신정",
    date(2026, 2, 16): "설날 연휴",
    date(2026, 2, 17): "설날",
    date(2026, 2, 18): "설날 연휴",
    date(2026, 3, 2): "삼일절 대체공휴일",
    date(2026, 5, 1): "노동절",
    date(2026, 5, 5): "어린이날",
    date(2026, 5, 25): "부처님오신날 대체공휴일",
    date(2026, 6, 3): "전국동시지방선거",
    date(2026, 7, 17): "제헌절",
    date(2026, 8, 17): "광복절 대체공휴일",
    date(2026, 9, 24): "추석 연휴",
    date(2026, 9, 25): "추석",
    date(2026, 10, 5): "개천절 대체공휴일",
    date(2026, 10, 9): "한글날",
    date(2026, 12, 25): "성탄절",
    date(2026, 12, 31): "연말 휴장일",
    date(2027, 1, 1): "신정",
    date(2027, 2, 8): "설날 연휴",
    date(2027, 2, 9): "설날 대체공휴일",
    date(2027, 3, 1): "삼일절",
    date(2027, 5, 3): "노동절 대체공휴일",
    date(2027, 5, 5): "어린이날",
    date(2027, 5, 13): "부처님오신날",
    date(2027, 7, 19): "제헌절 대체공휴일",
    date(2027, 8, 16): "광복절 대체공휴일",
    date(2027, 9, 14): "추석 연휴",
    date(2027, 9, 15): "추석",
    date(2027, 9, 16): "추석 연휴",
    date(2027, 10, 4): "개천절 대체공휴일",
    date(2027, 10, 11): "한글날 대체공휴일",
    date(2027, 12, 27): "성탄절 대체공휴일",
    date(2027, 12, 31): "연말 휴장일",
}
COVERED_YEARS = range(2025, 2028)

# 수능 (college entrance exam) days: trading shifted one hour later.
EXAM_DAYS = {date(2025, 11, 13), date(2026, 11, 19)}


class Session(StrEnum):
    CLOSED = "closed"
    OPENING_AUCTION = "opening_auction"  # orders collected, matched at the open
    REGULAR = "regular"  # continuous trading
    CLOSING_AUCTION = "closing_auction"  # last ten minutes, single price at the close
    BREAK = "break"  # between the close and after-hours trading
    AFTER_HOURS = "after_hours"  # closing-price and single-price after-hours


@dataclass(frozen=True, slots=True)
class TradingHours:
    """One trading day's timetable in KST."""

    day: date
    auction_start: time
    open: time
    closing_auction: time
    close: time
    after_hours_start: time
    after_hours_end: time

    def at(self, clock: time) -> datetime:
        return datetime.combine(self.day, clock, tzinfo=KST)


def calendar_covers(day: date) -> bool:
    """Whether the holiday table knows this year (outside it only weekends are closed)."""
    return day.year in COVERED_YEARS


def holiday_name(day: date) -> str | None:
    return KRX_HOLIDAYS.get(day)


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in KRX_HOLIDAYS


def previous_trading_day(day: date) -> date:
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def next_trading_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def trading_days(start: date, end: date) -> list[date]:
    """Trading days in ``[start, end]``."""
    days, day = [], start
    while day <= end:
        if is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _is_first_trading_day_of_year(day: date) -> bool:
    return is_trading_day(day) and previous_trading_day(day).year < day.year


def trading_hours(day: date) -> TradingHours | None:
    """The timetable of ``day``, or None when KRX is closed."""
    if not is_trading_day(day):
        return None
    if day in EXAM_DAYS:
        return TradingHours(day, time(9, 30), time(10, 0), time(16, 20), time(16, 30), time(16, 40), time(19, 0))
    if _is_first_trading_day_of_year(day):
        return TradingHours(day, time(9, 0), time(10, 0), time(15, 20), time(15, 30), time(15, 40), time(18, 0))
    return TradingHours(day, time(8, 30), time(9, 0), time(15, 20), time(15, 30), time(15, 40), time(18, 0))


def session_at(moment: datetime) -> Session:
    """Which session KRX is in at an aware ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("session_at needs an aware datetime")
    local = moment.astimezone(KST)
    hours = trading_hours(local.date())
    if hours is None:
        return Session.CLOSED
    clock = local.timetz().replace(tzinfo=None)
    if clock < hours.auction_start or clock >= hours.after_hours_end:
        return Session.CLOSED
    if clock < hours.open:
        return Session.OPENING_AUCTION
    if clock < hours.closing_auction:
        return Session.REGULAR
    if clock < hours.close:
        return Session.CLOSING_AUCTION
    if clock < hours.after_hours_start:
        return Session.BREAK
    return Session.AFTER_HOURS


def is_market_open(moment: datetime) -> bool:
    """Regular trading (continuous or closing auction) is under way."""
    return session_at(moment) in (Session.REGULAR, Session.CLOSING_AUCTION)


def next_open(moment: datetime) -> datetime:
    """The next regular open strictly after ``moment`` (or ``moment``'s day if still ahead)."""
    local = moment.astimezone(KST)
    day = local.date()
    hours = trading_hours(day)
    if hours is not None and local < hours.at(hours.open):
        return hours.at(hours.open)
    nxt = next_trading_day(day)
    nxt_hours = trading_hours(nxt)
    assert nxt_hours is not None
    return nxt_hours.at(nxt_hours.open)
