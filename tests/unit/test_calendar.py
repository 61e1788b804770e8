from datetime import UTC, date, datetime

import pytest

from kstock.market.calendar import (
    KST,
    Session,
    is_market_open,
    is_trading_day,
    next_open,
    previous_trading_day,
    session_at,
    trading_days,
    trading_hours,
)
from kstock.market.kistime import InvalidKisTime, iso_utc, kis_to_utc, utc_to_kis


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 1, 29),  # 설날
        date(2025, 5, 1),  # 근로자의 날 (KRX closed)
        date(2025, 6, 3),  # presidential election
        date(2025, 10, 8),  # 추석 substitute
        date(2025, 12, 31),  # year-end closing
        date(2026, 2, 17),  # 설날
        date(2026, 9, 25),  # 추석
        date(2026, 12, 31),
        date(2027, 2, 9),  # 설날 substitute
        date(2027, 12, 27),  # Christmas substitute
    ],
)
def test_holidays_are_closed(day):
    assert day.weekday() < 5 and not is_trading_day(day)


@pytest.mark.parametrize("day", [date(2025, 7, 14), date(2026, 1, 2), date(2026, 11, 20), date(2027, 6, 7)])
def test_ordinary_weekdays_trade(day):
    assert is_trading_day(day)


def test_weekends_are_closed():
    assert not is_trading_day(date(2026, 11, 21))  # Saturday
    assert not is_trading_day(date(2026, 11, 22))  # Sunday


def test_previous_trading_day_skips_weekend_and_holidays():
    # 2025-10-10 (Fri) follows 추석 (10/6-8), 한글날 (10/9), 개천절 (10/3) and a weekend.
    assert previous_trading_day(date(2025, 10, 10)) == date(2025, 10, 2)
    assert len(trading_days(date(2025, 10, 1), date(2025, 10, 10))) == 3


def kst(*args) -> datetime:
    return datetime(*args, tzinfo=KST)


@pytest.mark.parametrize(
    ("moment", "session"),
    [
        (kst(2026, 11, 20, 8, 29, 59), Session.CLOSED),
        (kst(2026, 11, 20, 8, 30), Session.OPENING_AUCTION),
        (kst(2026, 11, 20, 8, 59, 59), Session.OPENING_AUCTION),
        (kst(2026, 11, 20, 9, 0), Session.REGULAR),
        (kst(2026, 11, 20, 15, 19, 59), Session.REGULAR),
        (kst(2026, 11, 20, 15, 20), Session.CLOSING_AUCTION),
        (kst(2026, 11, 20, 15, 30), Session.BREAK),
        (kst(2026, 11, 20, 15, 40), Session.AFTER_HOURS),
        (kst(2026, 11, 20, 18, 0), Session.CLOSED),
        (kst(2026, 11, 21, 10, 0), Session.CLOSED),  # Saturday
        (kst(2026, 1, 2, 9, 30), Session.OPENING_AUCTION),  # first trading day opens at 10:00
        (kst(2026, 1, 2, 10, 0), Session.REGULAR),
        (kst(2026, 11, 19, 9, 30), Session.OPENING_AUCTION),  # 수능: one hour later
        (kst(2026, 11, 19, 16, 25), Session.CLOSING_AUCTION),
    ],
)
def test_session_edges(moment, session):
    assert session_at(moment) is session


def test_session_accepts_any_timezone():
    # 00:00 UTC is 09:00 KST
    assert session_at(datetime(2026, 11, 20, 0, 0, tzinfo=UTC)) is Session.REGULAR
    assert is_market_open(datetime(2026, 11, 20, 6, 29, tzinfo=UTC))
    assert not is_market_open(datetime(2026, 11, 20, 6, 31, tzinfo=UTC))


def test_next_open():
    assert next_open(kst(2026, 11, 20, 16, 0)) == kst(2026, 11, 23, 9, 0)  # Fri evening -> Mon
    assert next_open(kst(2026, 11, 20, 7, 0)) == kst(2026, 11, 20, 9, 0)
    assert next_open(kst(2025, 12, 30, 16, 0)) == kst(2026, 1, 2, 10, 0)  # over year-end + 신정
    assert trading_hours(date(2026, 11, 21)) is None


def test_kis_kst_to_utc():
    assert kis_to_utc("20250714", "093015") == datetime(2025, 7, 14, 0, 30, 15, tzinfo=UTC)
    # KST 08:59 is the previous day in UTC
    assert kis_to_utc("20260102", "085900") == datetime(2026, 1, 1, 23, 59, tzinfo=UTC)
    assert utc_to_kis(datetime(2026, 1, 1, 23, 59, tzinfo=UTC)) == ("20260102", "085900")
    assert iso_utc(kis_to_utc("20260111", "093000")) == "2026-01-11T00:30:00.000Z"


@pytest.mark.parametrize(("day", "clock"), [("2025071", "093015"), ("20250714", "250000"), ("", "")])
def test_bad_kis_times_are_refused(day, clock):
    with pytest.raises(InvalidKisTime):
        kis_to_utc(day, clock)
