"""What the kill steps share: kill a process of the stack, wait for ``kstock up`` to bring a new one,
and judge whether the open subscriptions got ticks again, and how soon."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil

from kstock_local.chaos.context import ChaosContext
from kstock_local.chaos.faults import kill_hard
from kstock_local.chaos.report import StepResult, seconds
from kstock_local.chaos.waiting import first_time


def kill_until_back(
    ctx: ChaosContext, result: StepResult, victim: psutil.Process, back: Callable[[], bool], what: str, how: str
) -> tuple[float, float | None]:
    """``kill -9`` ``victim``, then wait until ``back()``: (killed at, back at or None), checked as ``what``."""
    killed_at = time.monotonic()
    kill_hard(victim)
    back_at = first_time(back, ctx.options.patience)
    result.check(what, back_at is not None, f"{how} after {seconds(back_at and back_at - killed_at)}")
    return killed_at, back_at


def check_ticks_resume(
    ctx: ChaosContext, result: StepResult, since: float, origin: float, what: str, budget: float, origin_name: str
) -> None:
    """Every subscriber gets a tick after ``since``, the last of them within ``budget`` s of ``origin``."""
    resumed = ctx.wait_all(lambda s: s.first_tick_after(since) is not None, ctx.options.patience)
    firsts = [s.first_tick_after(since) for s in ctx.subscribers]
    everyone = None if None in firsts else max(f for f in firsts if f is not None) - origin
    result.check(what, all(resumed), f"{sum(resumed)}/{len(resumed)} subscribers")
    result.check(
        f"... within {budget:g} s of {origin_name}",
        everyone is not None and everyone <= budget,
        f"last subscriber after {seconds(everyone and max(0.0, everyone))}",
        budget=True,
    )
