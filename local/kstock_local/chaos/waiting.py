"""Waiting on conditions with deadlines, never sleeping as synchronisation.

A deadline here is how long the suite keeps looking before it calls a check failed; figures are
measured separately (the time the condition first held), so a slow machine changes a figure,
not the verdict of a behavioural check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError):
    """A condition did not hold before its deadline."""


def wait_until(condition: Callable[[], T | None], deadline: float, what: str, interval: float = 0.1) -> T:
    """Call ``condition`` until it returns something truthy, and return that; raise past ``deadline`` s."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= end:
            raise TimedOut(f"timed out after {deadline:g} s waiting for {what}")
        time.sleep(interval)


def first_time(condition: Callable[[], bool], deadline: float, interval: float = 0.1) -> float | None:
    """The monotonic time ``condition`` first held, or None if it never did within ``deadline`` s."""
    try:
        return wait_until(lambda: time.monotonic() if condition() else None, deadline, "a condition", interval)
    except TimedOut:
        return None


def first_times(
    conditions: dict[str, Callable[[], bool]], deadline: float, interval: float = 0.5
) -> dict[str, float | None]:
    """Watch several conditions at once: when each first held (None: not within ``deadline`` s).
    One slow condition does not eat the others' time, as waiting for them one by one would."""
    seen: dict[str, float | None] = dict.fromkeys(conditions)
    end = time.monotonic() + deadline
    while True:
        for name, condition in conditions.items():
            if seen[name] is None and condition():
                seen[name] = time.monotonic()
        if all(moment is not None for moment in seen.values()) or time.monotonic() >= end:
            return seen
        threading.Event().wait(interval)


def hold(seconds: float) -> None:
    """Keep a fault in place for ``seconds`` (the fault's length, not a wait for something to happen)."""
    threading.Event().wait(max(0.0, seconds))
