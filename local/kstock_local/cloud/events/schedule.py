"""Exact next-fire-time calculator for AWS EventBridge / EventBridge Scheduler schedule expressions.

The local runtime uses it to invoke scheduled Lambda functions on time::

    schedule = parse_schedule("cron(0 9 ? * MON-FRI *)", timezone="Asia/Seoul")
    schedule.next_after(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))  # -> 2026-11-23 00:00 UTC

Supported expressions (EventBridge semantics, see the AWS "Schedule types" documentation):

``rate(value unit)``
    ``unit`` is ``minute``/``hour``/``day`` when ``value`` is 1 and ``minutes``/``hours``/``days`` when it is
    greater than 1; ``value`` is a positive integer.  A rate fires at ``anchor + k * period`` for k = 1, 2, ...
    The anchor stands for the moment the rule was created (AWS starts a rate when the rule is created, and the
    first invocation comes one period later), so the anchor itself is not a fire time.  Set it with
    :meth:`Schedule.anchored`; otherwise the ``moment`` of the first :meth:`Schedule.next_after` call becomes
    the anchor.  Rates ignore the time zone.

``cron(Minutes Hours Day-of-month Month Day-of-week Year)``
    Six fields.  ``*``, ``,``, ``-`` and ``/`` (``*/5``, ``10/15``, ``10-40/10``) everywhere; ``?`` in exactly
    one of Day-of-month / Day-of-week; months 1-12 or JAN-DEC; weekdays 1-7 with 1 = Sunday, or SUN-SAT;
    Day-of-month ``L`` (last day), ``L-n`` (n days before the last day), ``nW`` (weekday nearest to day n,
    never leaving the month) and ``LW`` (last weekday); Day-of-week ``L`` (Saturday, the last day of the
    week), ``nL`` (last weekday n of the month, ``6L`` = last Friday) and ``n#k`` (k-th weekday n, ``2#3`` =
    third Monday); Year 1970-2199.  Names are case-insensitive.  Ranges whose start is after their end wrap
    around in the cyclic fields (``FRI-MON``, hours ``22-2``); they are rejected in Day-of-month and Year.
    The special forms may be mixed with other items in a list (Quartz, which AWS follows, would refuse some of
    those mixes; here the list is simply the union).

``at(yyyy-mm-ddThh:mm:ss)``
    A one-time schedule (EventBridge Scheduler).

Cron and at expressions are evaluated in ``timezone`` (an IANA name, EventBridge Scheduler's
``ScheduleExpressionTimezone``), UTC by default.  Daylight saving time follows EventBridge Scheduler: a cron
fire time that falls into the gap when clocks spring forward does not exist and is skipped; a fire time that
falls into the repeated hour when clocks fall back fires once, at its first occurrence (e.g. in
America/New_York ``cron(0/15 * * * ? *)`` fires 01:00-01:45 EDT and then not again until 02:00 EST).
A one-time ``at()`` in the spring-forward gap is not lost: it fires at the instant that wall-clock time names
under the offset in force before the change (02:30 in New York becomes 03:30 EDT); an ambiguous one fires at
its first occurrence.

Fire times are computed field by field (year -> month -> day -> hour -> minute), so a schedule that fires once a
year, or never again, is answered without walking through the minutes in between.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "AtSchedule",
    "CronSchedule",
    "RateSchedule",
    "Schedule",
    "ScheduleError",
    "parse_schedule",
]

MIN_YEAR = 1970
MAX_YEAR = 2199

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
_WEEKDAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}

_RATE_RE = re.compile(r"rate\((?P<value>\d+) (?P<unit>[a-z]+)\)")
_CRON_RE = re.compile(r"cron\((?P<body>.*)\)", re.DOTALL)
_AT_RE = re.compile(r"at\((?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})\)")
_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class ScheduleError(ValueError):
    """An invalid schedule expression or time zone."""


class Schedule:
    """A parsed schedule expression; see :func:`parse_schedule` and the module docstring for the semantics."""

    expression: str
    timezone: str

    def __init__(self, expression: str, timezone: str) -> None:
        self.expression = expression
        self.timezone = timezone

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after the aware ``moment``, in UTC; None if the schedule never fires again."""
        raise NotImplementedError

    def anchored(self, anchor: datetime) -> Schedule:
        """This schedule with rates counted from ``anchor`` (the rule's creation time); cron and at ignore it."""
        _require_aware(anchor, "anchor")
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expression!r}, timezone={self.timezone!r})"


class RateSchedule(Schedule):
    """``rate(value unit)``: fires every ``period`` after the anchor."""

    period: timedelta
    anchor: datetime | None

    def __init__(self, expression: str, timezone: str, period: timedelta, anchor: datetime | None = None) -> None:
        super().__init__(expression, timezone)
        self.period = period
        self.anchor = anchor

    def anchored(self, anchor: datetime) -> RateSchedule:
        _require_aware(anchor, "anchor")
        return RateSchedule(self.expression, self.timezone, self.period, anchor.astimezone(UTC))

    def next_after(self, moment: datetime) -> datetime | None:
        _require_aware(moment, "moment")
        if self.anchor is None:
            self.anchor = moment.astimezone(UTC)
        periods = max((moment - self.anchor) // self.period + 1, 1)
        return self.anchor + periods * self.period

    def __repr__(self) -> str:
        return f"RateSchedule({self.expression!r}, anchor={self.anchor!r})"


class AtSchedule(Schedule):
    """``at(yyyy-mm-ddThh:mm:ss)``: fires once, at ``when`` (UTC)."""

    when: datetime

    def __init__(self, expression: str, timezone: str, when: datetime) -> None:
        super().__init__(expression, timezone)
        self.when = when

    def next_after(self, moment: datetime) -> datetime | None:
        _require_aware(moment, "moment")
        return self.when if self.when > moment else None


@dataclass(frozen=True)
class _DayOfMonth:
    days: frozenset[int]  # plain day numbers 1-31 (days a month lacks never match)
    before_last: frozenset[int]  # L = 0, L-3 = 3
    nearest_weekday: frozenset[int]  # 15W = 15
    last_weekday: bool  # LW


@dataclass(frozen=True)
class _DayOfWeek:
    weekdays: frozenset[int]  # 1 = Sunday ... 7 = Saturday
    last: frozenset[int]  # 6L = 6
    nth: frozenset[tuple[int, int]]  # 2#3 = (2, 3)


class CronSchedule(Schedule):
    """``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` evaluated in ``timezone``."""

    def __init__(self, expression: str, timezone: str, body: str) -> None:
        super().__init__(expression, timezone)
        self._zone = _zone(timezone)
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleError(
                f"{expression}: a cron expression needs 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), "
                f"got {len(fields)}"
            )
        minutes, hours, dom, months, dow, years = fields
        if (dom == "?") == (dow == "?"):
            raise ScheduleError(
                f"{expression}: exactly one of Day-of-month ({dom!r}) and Day-of-week ({dow!r}) must be '?'"
            )
        self._minutes = _sorted(_parse_field(minutes, "Minutes", 0, 59, wrap=True))
        self._hours = _sorted(_parse_field(hours, "Hours", 0, 23, wrap=True))
        self._months = _sorted(_parse_field(months, "Month", 1, 12, names=_MONTHS, wrap=True))
        self._years = _sorted(_parse_field(years, "Year", MIN_YEAR, MAX_YEAR))
        self._dom = None if dom == "?" else _parse_day_of_month(dom)
        self._dow = None if dow == "?" else _parse_day_of_week(dow)
        self._day_cache: dict[tuple[int, int], tuple[int, ...]] = {}

    def next_after(self, moment: datetime) -> datetime | None:
        _require_aware(moment, "moment")
        local = moment.astimezone(self._zone).replace(second=0, microsecond=0, tzinfo=None, fold=0)
        # Wall-clock candidates come in increasing order; skipping nonexistent times and taking ambiguous ones at
        # their first occurrence keeps the wall-clock -> UTC mapping increasing, so the first candidate later than
        # ``moment`` is the answer.  At most a DST transition's worth of candidates is ever skipped.
        for candidate in self._wall_times_from(local):
            instant = _wall_to_utc(candidate, self._zone)
            if instant is not None and instant > moment:
                return instant
        return None

    def _wall_times_from(self, start: datetime) -> Iterator[datetime]:
        """Matching naive wall-clock minutes at or after ``start``, in order, walking field by field."""
        for year in self._years:
            if year < start.year:
                continue
            same_year = year == start.year
            for month in self._months:
                if same_year and month < start.month:
                    continue
                same_month = same_year and month == start.month
                for day in self._days(year, month):
                    if same_month and day < start.day:
                        continue
                    same_day = same_month and day == start.day
                    for hour in self._hours:
                        if same_day and hour < start.hour:
                            continue
                        same_hour = same_day and hour == start.hour
                        for minute in self._minutes:
                            if same_hour and minute < start.minute:
                                continue
                            yield datetime(year, month, day, hour, minute)

    def _days(self, year: int, month: int) -> tuple[int, ...]:
        key = (year, month)
        days = self._day_cache.get(key)
        if days is None:
            days = self._day_cache[key] = _sorted(self._compute_days(year, month))
        return days

    def _compute_days(self, year: int, month: int) -> set[int]:
        first_weekday, last = calendar.monthrange(year, month)  # Monday = 0
        # AWS numbers weekdays 1 (Sunday) to 7 (Saturday).
        weekday_of = {day: (first_weekday + day) % 7 + 1 for day in range(1, last + 1)}
        days: set[int] = set()
        if self._dom is not None:
            dom = self._dom
            days.update(day for day in dom.days if day <= last)
            days.update(last - offset for offset in dom.before_last if last - offset >= 1)
            if dom.last_weekday:
                days.add(_nearest_weekday(last, last, weekday_of))
            days.update(_nearest_weekday(day, last, weekday_of) for day in dom.nearest_weekday if day <= last)
        if self._dow is not None:
            dow = self._dow
            days.update(day for day, weekday in weekday_of.items() if weekday in dow.weekdays)
            for weekday in dow.last:
                days.add(max(day for day, wd in weekday_of.items() if wd == weekday))
            for weekday, nth in dow.nth:
                matching = [day for day, wd in weekday_of.items() if wd == weekday]
                if nth <= len(matching):
                    days.add(matching[nth - 1])
        return days


def parse_schedule(expression: str, timezone: str | None = None) -> Schedule:
    """Parse an EventBridge ``rate()``, ``cron()`` or ``at()`` expression.

    ``timezone`` is an IANA zone name applied to cron and at expressions (default UTC).
    Raises :class:`ScheduleError` naming the problem when the expression or the zone is invalid.
    """
    if not isinstance(expression, str):
        raise ScheduleError(f"schedule expression must be a string, got {type(expression).__name__}")
    zone_name = timezone or "UTC"
    text = expression.strip()
    if text.startswith("rate("):
        _zone(zone_name)
        return RateSchedule(text, zone_name, _parse_rate(text))
    if text.startswith("cron("):
        match = _CRON_RE.fullmatch(text)
        if match is None:
            raise ScheduleError(f"{text}: a cron expression must end with ')'")
        return CronSchedule(text, zone_name, match["body"])
    if text.startswith("at("):
        return AtSchedule(text, zone_name, _parse_at(text, _zone(zone_name)))
    raise ScheduleError(f"{expression!r}: not a schedule expression; expected rate(...), cron(...) or at(...)")


def _parse_rate(text: str) -> timedelta:
    match = _RATE_RE.fullmatch(text)
    if match is None:
        raise ScheduleError(f"{text}: a rate expression must look like 'rate(5 minutes)'")
    value, unit = int(match["value"]), match["unit"]
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise ScheduleError(f"{text}: unknown rate unit {unit!r}; use minute(s), hour(s) or day(s)")
    if value < 1:
        raise ScheduleError(f"{text}: the rate value must be a positive integer, got {value}")
    if value == 1 and unit != singular:
        raise ScheduleError(f"{text}: a rate of 1 takes the singular unit {singular!r}, not {unit!r}")
    if value > 1 and unit == singular:
        raise ScheduleError(f"{text}: a rate greater than 1 takes the plural unit {singular + 's'!r}, not {unit!r}")
    return value * _RATE_UNITS[singular]


def _parse_at(text: str, zone: ZoneInfo) -> datetime:
    match = _AT_RE.fullmatch(text)
    if match is None:
        raise ScheduleError(f"{text}: a one-time expression must look like 'at(yyyy-mm-ddThh:mm:ss)'")
    try:
        year, month, day, hour, minute, second = (int(match[group]) for group in ("y", "mo", "d", "h", "mi", "s"))
        wall = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ScheduleError(f"{text}: invalid date or time ({exc})") from None
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name!r}") from exc


def _parse_field(
    text: str, label: str, low: int, high: int, *, names: dict[str, int] | None = None, wrap: bool = False
) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, label, low, high, names=names, wrap=wrap))
    return values


def _parse_item(
    item: str, label: str, low: int, high: int, *, names: dict[str, int] | None = None, wrap: bool = False
) -> list[int]:
    """One list item of a plain field: ``*``, ``n``, ``a-b``, with an optional ``/step``."""
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        step = _number(step_text, f"{label} step", 1, high - low + 1)
    if base == "*":
        start, end = low, high
    elif "-" in base:
        first, _, second = base.partition("-")
        start, end = _value(first, label, low, high, names), _value(second, label, low, high, names)
    else:
        start = _value(base, label, low, high, names)
        end = high if slash else start
    if start <= end:
        return list(range(start, end + 1, step))
    if not wrap:
        raise ScheduleError(f"{label} range {base!r} runs backwards")
    size = high - low + 1
    return [(value - low) % size + low for value in range(start, end + size + 1, step)]


def _value(text: str, label: str, low: int, high: int, names: dict[str, int] | None) -> int:
    if names is not None and text.upper() in names:
        return names[text.upper()]
    return _number(text, label, low, high)


def _number(text: str, label: str, low: int, high: int) -> int:
    if not text.isascii() or not text.isdigit():
        raise ScheduleError(f"{label}: {text!r} is not a valid value" if text else f"{label}: empty value")
    value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"{label} value {value} is out of range {low}-{high}")
    return value


def _parse_day_of_month(text: str) -> _DayOfMonth:
    days: set[int] = set()
    before_last: set[int] = set()
    nearest: set[int] = set()
    last_weekday = False
    for item in text.upper().split(","):
        if item == "L":
            before_last.add(0)
        elif item.startswith("L-"):
            before_last.add(_number(item[2:], "Day-of-month L offset", 0, 30))
        elif item == "LW":
            last_weekday = True
        elif item.endswith("W"):
            nearest.add(_number(item[:-1], "Day-of-month W day", 1, 31))
        elif item == "?":
            raise ScheduleError("Day-of-month: '?' must be the whole field")
        else:
            days.update(_parse_item(item, "Day-of-month", 1, 31))
    return _DayOfMonth(frozenset(days), frozenset(before_last), frozenset(nearest), last_weekday)


def _parse_day_of_week(text: str) -> _DayOfWeek:
    weekdays: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.upper().split(","):
        if item == "L":
            weekdays.add(7)
        elif item.endswith("L"):
            last.add(_value(item[:-1], "Day-of-week", 1, 7, _WEEKDAYS))
        elif "#" in item:
            weekday, _, index = item.partition("#")
            nth.add((_value(weekday, "Day-of-week", 1, 7, _WEEKDAYS), _number(index, "Day-of-week # index", 1, 5)))
        elif item == "?":
            raise ScheduleError("Day-of-week: '?' must be the whole field")
        else:
            weekdays.update(_parse_item(item, "Day-of-week", 1, 7, names=_WEEKDAYS, wrap=True))
    return _DayOfWeek(frozenset(weekdays), frozenset(last), frozenset(nth))


def _nearest_weekday(day: int, last: int, weekday_of: dict[int, int]) -> int:
    """The Monday-Friday day nearest to ``day`` without leaving the month (the ``W`` rule)."""
    weekday = weekday_of[day]
    if weekday == 7:  # Saturday: Friday before, or Monday after when the 1st is a Saturday
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: Monday after, or Friday before when the month ends on that Sunday
        return day + 1 if day < last else day - 2
    return day


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a naive wall-clock time: its first occurrence, or None if DST skips it."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def _require_aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")


def _sorted(values: set[int]) -> tuple[int, ...]:
    return tuple(sorted(values))
