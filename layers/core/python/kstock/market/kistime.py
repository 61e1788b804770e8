"""KIS sends Korea wall-clock dates and times (``YYYYMMDD`` + ``HHMMSS``, KST, no DST); kstock
stores and sends UTC. Everything crossing that boundary goes through here."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from kstock.market.calendar import KST


class InvalidKisTime(ValueError):
    pass


def parse_kis_date(yyyymmdd: str) -> date:
    if not (isinstance(yyyymmdd, str) and len(yyyymmdd) == 8 and yyyymmdd.isdigit()):
        raise InvalidKisTime(f"bad KIS date {yyyymmdd!r}")
    try:
        return datetime.strptime(yyyymmdd, "%Y%m%d").date()
    except (TypeError, ValueError) as exc:
        raise InvalidKisTime(f"bad KIS date {yyyymmdd!r}") from exc


def parse_kis_time(hhmmss: str) -> time:
    if not (isinstance(hhmmss, str) and len(hhmmss) == 6 and hhmmss.isdigit()):
        raise InvalidKisTime(f"bad KIS time {hhmmss!r}")
    try:
        return datetime.strptime(hhmmss, "%H%M%S").time()
    except (TypeError, ValueError) as exc:
        raise InvalidKisTime(f"bad KIS time {hhmmss!r}") from exc


def kis_to_utc(yyyymmdd: str | date, hhmmss: str | time) -> datetime:
    """``("20250714", "093015")`` (KST) -> ``2025-07-14 00:30:15+00:00``."""
    day = yyyymmdd if isinstance(yyyymmdd, date) else parse_kis_date(yyyymmdd)
    clock = hhmmss if isinstance(hhmmss, time) else parse_kis_time(hhmmss)
    return datetime.combine(day, clock, tzinfo=KST).astimezone(UTC)


def utc_to_kis(moment: datetime) -> tuple[str, str]:
    """The inverse: an aware datetime -> (``YYYYMMDD``, ``HHMMSS``) in KST."""
    if moment.tzinfo is None:
        raise InvalidKisTime("naive datetime: kstock only handles aware times")
    local = moment.astimezone(KST)
    return local.strftime("%Y%m%d"), local.strftime("%H%M%S")


def iso_utc(moment: datetime) -> str:
    """The wire format of times: ``2026-01-11T00:30:00.123Z`` (milliseconds, Z)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
