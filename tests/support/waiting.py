"""The one way a test waits: on a condition, with a patient deadline, failing with what it waited for.

A deadline in a test is a condition's last chance, never a speed target (those live in `kstock bench`):
on a machine busy with other work everything may take several times longer.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

PATIENCE = 4.0
MIN_DEADLINE = 30.0


def patient(timeout: float) -> float:
    """The seconds a test really waits for something a quiet machine does within ``timeout``."""
    return max(timeout * PATIENCE, MIN_DEADLINE)


class Deadline:
    """A patient deadline for ``what``: ``expired()`` says when to give up, ``fail()`` says why."""

    def __init__(self, timeout: float, what: str) -> None:
        self.seconds = patient(timeout)
        self.what = what
        self._end = time.monotonic() + self.seconds

    def left(self) -> float:
        return self._end - time.monotonic()

    def expired(self) -> bool:
        return self.left() <= 0

    def fail(self, detail: str = "") -> AssertionError:
        return AssertionError(f"timed out after {self.seconds:g}s waiting for {self.what}{detail}")


def wait_for(condition: Callable[[], T], timeout: float = 15.0, what: str = "condition", interval: float = 0.05) -> T:
    """Call ``condition`` until it returns something truthy, and return that; raise past the deadline."""
    deadline = Deadline(timeout, what)
    while True:
        value = condition()
        if value:
            return value
        if deadline.expired():
            raise deadline.fail()
        time.sleep(interval)


async def wait_for_async(
    condition: Callable[[], T | Awaitable[T]], timeout: float = 15.0, what: str = "condition", interval: float = 0.05
) -> T:
    """``wait_for`` inside an event loop: the loop keeps running (and can make the condition true) between checks.
    The condition may be a coroutine function (a ping, a publish)."""
    deadline = Deadline(timeout, what)
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if deadline.expired():
            raise deadline.fail()
        await asyncio.sleep(interval)
