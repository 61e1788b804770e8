import calendar
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kstock_local.cloud.events.schedule import (
    AtSchedule,
    CronSchedule,
    RateSchedule,
    ScheduleError,
    parse_schedule,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "zone", "moment", "expected"),
    [
        # weekdays 09:00 KST = 00:00 UTC
        ("cron(0 9 ? * MON-FRI *)", "Asia/Seoul", utc(2026, 11, 20, 1, 0), utc(2026, 11, 23, 0, 0)),  # Fri -> Mon
        ("cron(0 9 ? * MON-FRI *)", "Asia/Seoul", utc(2026, 11, 20, 0, 0), utc(2026, 11, 23, 0, 0)),  # strictly after
        ("cron(0 9 ? * MON-FRI *)", "Asia/Seoul", utc(2026, 11, 19, 23, 59), utc(2026, 11, 20, 0, 0)),
        ("cron(0 9 ? * 2-6 *)", "Asia/Seoul", utc(2026, 11, 20, 1, 0), utc(2026, 11, 23, 0, 0)),  # 1 = SUN
        ("cron(0 9 ? * mon-fri *)", "Asia/Seoul", utc(2026, 11, 21, 12, 0), utc(2026, 11, 23, 0, 0)),
        # every quarter hour
        ("cron(0/15 * * * ? *)", None, utc(2026, 3, 10, 10, 7, 30), utc(2026, 3, 10, 10, 15)),
        ("cron(0/15 * * * ? *)", None, utc(2026, 3, 10, 10, 45), utc(2026, 3, 10, 11, 0)),
        ("cron(0/15 * * * ? *)", None, utc(2026, 12, 31, 23, 50), utc(2027, 1, 1, 0, 0)),
        ("cron(*/5 * * * ? *)", None, utc(2026, 3, 10, 10, 0, 0, 1), utc(2026, 3, 10, 10, 5)),
        ("cron(10/15 * * * ? *)", None, utc(2026, 3, 10, 10, 41), utc(2026, 3, 10, 10, 55)),
        ("cron(10/15 * * * ? *)", None, utc(2026, 3, 10, 10, 55), utc(2026, 3, 10, 11, 10)),
        ("cron(10-40/10 * * * ? *)", None, utc(2026, 3, 10, 10, 41), utc(2026, 3, 10, 11, 10)),
        ("cron(* * * * ? *)", None, utc(2026, 3, 10, 10, 0, 59), utc(2026, 3, 10, 10, 1)),
        # last Friday of the month
        ("cron(0 18 ? * 6L *)", None, utc(2026, 11, 1), utc(2026, 11, 27, 18, 0)),
        ("cron(0 18 ? * 6L *)", None, utc(2026, 11, 27, 18, 0), utc(2026, 12, 25, 18, 0)),
        ("cron(0 18 ? * FRIL *)", None, utc(2026, 11, 1), utc(2026, 11, 27, 18, 0)),
        # nearest weekday
        ("cron(0 10 15W * ? *)", None, utc(2026, 8, 1), utc(2026, 8, 14, 10, 0)),  # Sat 15th -> Fri 14th
        ("cron(0 10 15W * ? *)", None, utc(2026, 11, 1), utc(2026, 11, 16, 10, 0)),  # Sun 15th -> Mon 16th
        ("cron(0 10 15W * ? *)", None, utc(2026, 11, 16, 10, 0), utc(2026, 12, 15, 10, 0)),  # Tue 15th
        ("cron(0 10 1W * ? *)", None, utc(2026, 7, 15), utc(2026, 8, 3, 10, 0)),  # Sat 1st -> Mon 3rd, not July
        ("cron(0 10 31W * ? *)", None, utc(2026, 5, 1), utc(2026, 5, 29, 10, 0)),  # Sun 31st -> Fri 29th
        ("cron(0 10 31W * ? *)", None, utc(2026, 6, 1), utc(2026, 7, 31, 10, 0)),  # June has no 31st
        ("cron(0 0 LW * ? *)", None, utc(2026, 10, 1), utc(2026, 10, 30, 0, 0)),  # Sat 31st -> Fri 30th
        ("cron(0 0 LW * ? *)", None, utc(2027, 1, 1), utc(2027, 1, 29, 0, 0)),  # Sun 31st -> Fri 29th
        # last day of the month
        ("cron(0 0 L * ? *)", None, utc(2028, 2, 1), utc(2028, 2, 29, 0, 0)),  # leap year
        ("cron(0 0 L * ? *)", None, utc(2027, 2, 1), utc(2027, 2, 28, 0, 0)),
        ("cron(0 0 L * ? *)", None, utc(2100, 2, 1), utc(2100, 2, 28, 0, 0)),  # century, not leap
        ("cron(0 0 L * ? *)", None, utc(2026, 4, 30, 0, 0), utc(2026, 5, 31, 0, 0)),
        ("cron(0 0 L-1 * ? *)", None, utc(2028, 2, 1), utc(2028, 2, 28, 0, 0)),
        # n-th weekday
        ("cron(30 1 ? * 2#1 *)", None, utc(2026, 11, 1), utc(2026, 11, 2, 1, 30)),
        ("cron(30 1 ? * 2#1 *)", None, utc(2026, 11, 2, 1, 30), utc(2026, 12, 7, 1, 30)),
        ("cron(30 1 ? * MON#1 *)", None, utc(2026, 12, 7, 1, 30), utc(2027, 1, 4, 1, 30)),
        ("cron(0 0 ? * 5#5 *)", None, utc(2026, 11, 1), utc(2026, 12, 31, 0, 0)),  # Nov has 4 Thursdays
        ("cron(0 0 ? * L *)", None, utc(2026, 11, 20, 1), utc(2026, 11, 21, 0, 0)),  # L alone = Saturday
        # fixed years and names
        ("cron(0 12 1 JAN ? 2027)", None, utc(2026, 6, 1), utc(2027, 1, 1, 12, 0)),
        ("cron(0 12 1 JAN ? 2027)", None, utc(2027, 1, 1, 12, 0), None),
        ("cron(0 12 1 1 ? 2027,2030)", None, utc(2027, 1, 1, 12, 0), utc(2030, 1, 1, 12, 0)),
        ("cron(0 12 1 NOV-FEB ? *)", None, utc(2027, 2, 2), utc(2027, 11, 1, 12, 0)),  # wrapping month range
        ("cron(0 22-2 ? * FRI-MON *)", None, utc(2026, 11, 17, 0, 0), utc(2026, 11, 20, 0, 0)),  # Tue 00:00 -> Fri
        ("cron(0 22-2 ? * FRI-MON *)", None, utc(2026, 11, 23, 2, 0), utc(2026, 11, 23, 22, 0)),
        ("cron(0 0 1 1 ? *)", None, utc(2199, 1, 1, 0, 0), None),  # end of the Year range
        # cron in a zone, evaluated against an aware moment in another zone
        (
            "cron(0 0 * * ? *)",
            "Asia/Seoul",
            datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=9))),
            utc(2026, 1, 1, 15, 0),
        ),
        # one-time schedules
        ("at(2026-12-01T09:00:00)", "Asia/Seoul", utc(2026, 11, 30), utc(2026, 12, 1, 0, 0)),
        ("at(2026-12-01T09:00:00)", "Asia/Seoul", utc(2026, 12, 1, 0, 0), None),
        ("at(2026-12-01T09:00:00)", None, utc(2026, 11, 30), utc(2026, 12, 1, 9, 0)),
        ("at(2026-03-08T02:30:00)", "America/New_York", utc(2026, 3, 1), utc(2026, 3, 8, 7, 30)),  # in the gap
        ("at(2026-11-01T01:30:00)", "America/New_York", utc(2026, 10, 1), utc(2026, 11, 1, 5, 30)),  # first 01:30
    ],
)
def test_next_fire_time(expression, zone, moment, expected):
    fired = parse_schedule(expression, zone).next_after(moment)
    assert fired == expected
    if fired is not None:
        assert fired.tzinfo is UTC


def fire_times(expression: str, zone: str | None, start: datetime, count: int) -> list[datetime]:
    schedule = parse_schedule(expression, zone)
    times: list[datetime] = []
    moment = start
    for _ in range(count):
        fired = schedule.next_after(moment)
        assert fired is not None
        times.append(fired)
        moment = fired
    return times


def test_new_york_spring_forward_skips_missing_local_times():
    # 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist that day
    assert fire_times("cron(30 2 * * ? *)", "America/New_York", utc(2026, 3, 7, 8, 0), 2) == [
        utc(2026, 3, 9, 6, 30),
        utc(2026, 3, 10, 6, 30),
    ]
    assert fire_times("cron(0 * * * ? *)", "America/New_York", utc(2026, 3, 8, 5, 30), 3) == [
        utc(2026, 3, 8, 6, 0),
        utc(2026, 3, 8, 7, 0),
        utc(2026, 3, 8, 8, 0),
    ]  # 01:00 EST, 03:00 EDT, 04:00 EDT
    assert fire_times("cron(0 9 * * ? *)", "America/New_York", utc(2026, 3, 6, 15, 0), 3) == [
        utc(2026, 3, 7, 14, 0),
        utc(2026, 3, 8, 13, 0),
        utc(2026, 3, 9, 13, 0),
    ]


def test_new_york_fall_back_fires_ambiguous_times_once():
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:00-01:59 happens twice and fires only the first time
    assert fire_times("cron(30 1 * * ? *)", "America/New_York", utc(2026, 11, 1, 4, 0), 2) == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 30),
    ]
    assert fire_times("cron(0/15 * * * ? *)", "America/New_York", utc(2026, 11, 1, 4, 50), 6) == [
        utc(2026, 11, 1, 5, 0),
        utc(2026, 11, 1, 5, 15),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 5, 45),
        utc(2026, 11, 1, 7, 0),
        utc(2026, 11, 1, 7, 15),
    ]
    schedule = parse_schedule("cron(30 1 * * ? *)", "America/New_York")
    assert schedule.next_after(utc(2026, 11, 1, 6, 0)) == utc(2026, 11, 2, 6, 30)  # during the repeated hour
    assert schedule.next_after(utc(2026, 11, 1, 5, 29)) == utc(2026, 11, 1, 5, 30)
    assert fire_times("cron(0 9 * * ? *)", "America/New_York", utc(2026, 10, 31, 12, 0), 3) == [
        utc(2026, 10, 31, 13, 0),
        utc(2026, 11, 1, 14, 0),
        utc(2026, 11, 2, 14, 0),
    ]


def test_seoul_weekdays_sequence():
    assert fire_times("cron(0 9 ? * MON-FRI *)", "Asia/Seoul", utc(2026, 11, 20, 1, 0), 5) == [
        utc(2026, 11, day, 0, 0) for day in (23, 24, 25, 26, 27)
    ]


def test_rate_from_explicit_anchor():
    anchor = utc(2026, 1, 1, 0, 0, 30)
    every_minute = parse_schedule("rate(1 minute)").anchored(anchor)
    assert every_minute.next_after(anchor) == utc(2026, 1, 1, 0, 1, 30)
    assert every_minute.next_after(utc(2026, 1, 1, 0, 1, 29)) == utc(2026, 1, 1, 0, 1, 30)
    assert every_minute.next_after(utc(2026, 1, 1, 0, 1, 30)) == utc(2026, 1, 1, 0, 2, 30)
    assert every_minute.next_after(utc(2025, 12, 31)) == utc(2026, 1, 1, 0, 1, 30)  # before the anchor
    five = parse_schedule("rate(5 minutes)").anchored(anchor)
    assert five.next_after(utc(2026, 1, 1, 0, 12, 0)) == utc(2026, 1, 1, 0, 15, 30)
    assert five.next_after(utc(2026, 1, 1, 0, 15, 30)) == utc(2026, 1, 1, 0, 20, 30)
    assert five.next_after(utc(2026, 3, 1, 7, 3)) == utc(2026, 3, 1, 7, 5, 30)
    kst = timezone(timedelta(hours=9))
    assert five.next_after(datetime(2026, 1, 1, 9, 12, tzinfo=kst)).tzinfo is UTC
    assert parse_schedule("rate(2 hours)").anchored(anchor).next_after(utc(2026, 1, 1, 3)) == utc(2026, 1, 1, 4, 0, 30)
    assert parse_schedule("rate(1 hour)").anchored(anchor).next_after(utc(2026, 1, 1, 3)) == utc(2026, 1, 1, 3, 0, 30)
    assert parse_schedule("rate(1 day)").anchored(anchor).next_after(utc(2026, 1, 5)) == utc(2026, 1, 5, 0, 0, 30)
    assert parse_schedule("rate(3 days)").anchored(anchor).next_after(utc(2026, 1, 5)) == utc(2026, 1, 7, 0, 0, 30)


def test_rate_anchors_on_first_call():
    schedule = parse_schedule("rate(5 minutes)")
    assert isinstance(schedule, RateSchedule)
    first = utc(2026, 1, 1, 9, 0, 10)
    assert schedule.next_after(first) == utc(2026, 1, 1, 9, 5, 10)
    assert schedule.next_after(utc(2026, 1, 1, 9, 7)) == utc(2026, 1, 1, 9, 10, 10)
    assert schedule.anchor == first


def test_rate_ignores_timezone_and_anchored_is_a_copy():
    schedule = parse_schedule("rate(1 hour)", "Asia/Seoul")
    anchored = schedule.anchored(utc(2026, 1, 1))
    assert anchored is not schedule and schedule.anchor is None
    assert anchored.next_after(utc(2026, 1, 1, 0, 30)) == utc(2026, 1, 1, 1, 0)


def test_schedule_types_and_anchored_on_cron_and_at():
    cron = parse_schedule("cron(0 9 * * ? *)")
    at = parse_schedule("at(2026-12-01T09:00:00)")
    assert isinstance(cron, CronSchedule) and isinstance(at, AtSchedule)
    assert cron.anchored(utc(2026, 1, 1)).next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 9, 0)
    assert at.anchored(utc(2026, 1, 1)) is at
    assert cron.timezone == "UTC" and cron.expression == "cron(0 9 * * ? *)"


def test_naive_moment_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule("cron(0 9 * * ? *)").next_after(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule("rate(1 minute)").anchored(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "plural"),
        ("rate(0 minutes)", "positive"),
        ("rate(-1 minutes)", "rate"),
        ("rate(1.5 hours)", "rate"),
        ("rate(2 weeks)", "unit"),
        ("rate(5)", "rate"),
        ("cron(* * * * * *)", "exactly one of Day-of-month"),
        ("cron(0 9 ? * ? *)", "exactly one of Day-of-month"),
        ("cron(0 9 * * ?)", "6 fields"),
        ("cron(0 9 * * ? * *)", "6 fields"),
        ("cron(0 25 * * ? *)", "Hours value 25"),
        ("cron(60 * * * ? *)", "Minutes value 60"),
        ("cron(0 0 32 * ? *)", "Day-of-month value 32"),
        ("cron(0 0 0 * ? *)", "Day-of-month value 0"),
        ("cron(0 0 1 13 ? *)", "Month value 13"),
        ("cron(0 0 1 FOO ? *)", "Month"),
        ("cron(0 0 ? * 0 *)", "Day-of-week value 0"),
        ("cron(0 0 ? * 8 *)", "Day-of-week value 8"),
        ("cron(0 0 ? * 2#6 *)", "Day-of-week # index"),
        ("cron(0 0 ? * 9L *)", "Day-of-week"),
        ("cron(0 0 32W * ? *)", "W day"),
        ("cron(0 0 1 * ? 1969)", "Year value 1969"),
        ("cron(0 0 1 * ? 2200)", "Year value 2200"),
        ("cron(0 0 20-10 * ? *)", "backwards"),
        ("cron(0/0 * * * ? *)", "step"),
        ("cron(0,,5 * * * ? *)", "empty"),
        ("cron(0 9 * * ? *", "cron"),
        ("at(2026-13-01T00:00:00)", "invalid date"),
        ("at(2026-12-01 09:00:00)", "at(yyyy-mm-ddThh:mm:ss)"),
        ("foo", "not a schedule expression"),
        ("", "not a schedule expression"),
    ],
)
def test_invalid_expressions(expression, problem):
    with pytest.raises(ScheduleError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_schedule(expression)


def test_invalid_timezone():
    with pytest.raises(ScheduleError, match="time zone"):
        parse_schedule("cron(0 9 * * ? *)", "Mars/Olympus_Mons")
    with pytest.raises(ScheduleError, match="time zone"):
        parse_schedule("at(2026-12-01T09:00:00)", "Nowhere")


def test_schedule_error_is_a_value_error():
    assert issubclass(ScheduleError, ValueError)


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        ("cron(0 0 29 2 ? *)", utc(2096, 3, 1), utc(2104, 2, 29)),  # 2100 is not a leap year
        ("cron(0 0 31 2 ? *)", utc(2026, 1, 1), None),  # never: must exhaust 1970-2199 quickly
        ("cron(59 23 31 DEC ? *)", utc(2026, 1, 1), utc(2026, 12, 31, 23, 59)),
        ("cron(0 0 ? 2 5#5 *)", utc(2026, 1, 1), utc(2052, 2, 29)),  # a fifth Thursday in February
    ],
)
def test_sparse_schedules_are_fast(expression, moment, expected):
    schedule = parse_schedule(expression)
    started = time.perf_counter()
    assert schedule.next_after(moment) == expected
    assert time.perf_counter() - started < 1.0


def _last(day: datetime) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _aws_weekday(day: datetime) -> int:
    return (day.weekday() + 1) % 7 + 1  # 1 = Sunday


# Independent predicates for a minute-by-minute brute-force check of the field-by-field search.
ORACLES: list[tuple[str, Callable[[datetime], bool]]] = [
    ("cron(5,35 8-10 ? * MON-FRI *)", lambda t: t.minute in (5, 35) and 8 <= t.hour <= 10 and t.weekday() < 5),
    (
        "cron(*/20 22-2 ? * FRI-MON *)",
        lambda t: t.minute % 20 == 0 and (t.hour >= 22 or t.hour <= 2) and t.weekday() in (4, 5, 6, 0),
    ),
    ("cron(0 6 L-2 * ? *)", lambda t: (t.minute, t.hour) == (0, 6) and t.day == _last(t) - 2),
    (
        "cron(15 3 ? * 1#2,7L *)",
        lambda t: (
            (t.minute, t.hour) == (15, 3)
            and ((_aws_weekday(t) == 1 and 8 <= t.day <= 14) or (_aws_weekday(t) == 7 and t.day + 7 > _last(t)))
        ),
    ),
    (
        "cron(10-40/10 */6 1,15 */2 ? *)",
        lambda t: t.minute in (10, 20, 30, 40) and t.hour % 6 == 0 and t.day in (1, 15) and t.month % 2 == 1,
    ),
    ("cron(0 12 ? * SUN,4 *)", lambda t: (t.minute, t.hour) == (0, 12) and _aws_weekday(t) in (1, 4)),
]


@pytest.mark.parametrize(("expression", "predicate"), ORACLES, ids=[expression for expression, _ in ORACLES])
def test_matches_brute_force(expression, predicate):
    start, end = utc(2026, 1, 25, 17, 3), utc(2026, 4, 10)
    expected = []
    moment = start.replace(second=0) + timedelta(minutes=1)
    while moment < end:
        if predicate(moment):
            expected.append(moment)
        moment += timedelta(minutes=1)
    assert expected
    schedule = parse_schedule(expression)
    actual = []
    fired = schedule.next_after(start)
    while fired is not None and fired < end:
        actual.append(fired)
        fired = schedule.next_after(fired)
    assert actual == expected
