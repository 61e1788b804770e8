"""What the OpenDART tests share: a settable clock for the stand-in, on a day whose filings are known."""

from __future__ import annotations

from datetime import date, datetime

from kstock.market.calendar import KST

TODAY = date(2026, 6, 1)  # after the Q1 reports (mid-May), before the half-year ones (mid-August)


class Clock:
    """The stand-in's "now": 19:00 KST on a day (after the day's filings), movable by tests."""

    def __init__(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 19, 0, tzinfo=KST)

    def __call__(self) -> datetime:
        return self.now
