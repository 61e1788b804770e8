"""Step 3: KIS hangs (SIGSTOP the simulator: its sockets accept and never answer) (finding 7).

While it hangs: ``/realtime-prices/polling`` of an uncached symbol answers 503
``STREAM_UNAVAILABLE`` within 10 s (the KIS deadline is below the function timeout), both health
endpoints report the stalled feed, and the subscribers get ``{"type":"status","stream":"stalled"}``.
After SIGCONT they get ``"resumed"`` and trades again.
"""

from __future__ import annotations

import time
from typing import Any

from kstock_local.chaos.api import Timed
from kstock_local.chaos.context import ChaosContext
from kstock_local.chaos.faults import freeze, thaw
from kstock_local.chaos.report import StepResult, seconds
from kstock_local.chaos.waiting import first_time, first_times, hold

NUMBER, TITLE = 3, "hang KIS (SIGSTOP)"
POLLING_BUDGET = 10.0


def run(ctx: ChaosContext) -> StepResult:
    result = StepResult(NUMBER, TITLE)
    length = ctx.options.kis_hang_seconds
    uncached = ctx.uncached(ctx.fresh_symbols(5))
    simulator = freeze([ctx.stack.kis_simulator()])
    stopped_at = time.monotonic()
    try:
        _while_hung(ctx, result, uncached, stopped_at, stopped_at + length)
        hold(stopped_at + length - time.monotonic())
    finally:
        thaw(simulator)
    continued_at = time.monotonic()
    result.check("KIS hung for", True, seconds(continued_at - stopped_at))
    _after(ctx, result, continued_at)
    return result


def _while_hung(ctx: ChaosContext, result: StepResult, uncached: str, started: float, until: float) -> None:
    answer = ctx.api.polling([uncached], timeout=120)
    code = answer.body.get("code")
    result.check(
        "polling answers 503 STREAM_UNAVAILABLE",
        answer.status == 503 and code == "STREAM_UNAVAILABLE",
        f"HTTP {answer.status} {code or ''} for {uncached}".strip(),
    )
    result.check(
        f"... within {POLLING_BUDGET:g} s", answer.seconds <= POLLING_BUDGET, seconds(answer.seconds), budget=True
    )
    seen = first_times(
        {
            "api": lambda: _reports_kis(_api_health(ctx)),
            "streamer": lambda: _reports_kis(_streamer_health(ctx)),
            "clients": lambda: all(s.status_after(started, "stalled") is not None for s in ctx.subscribers),
        },
        max(1.0, until - time.monotonic()),
    )
    result.check("API /health reports the stalled KIS", seen["api"] is not None, _after_start(seen["api"], started))
    result.check(
        "streamer /health reports the stalled KIS",
        seen["streamer"] is not None,
        _after_start(seen["streamer"], started),
    )
    stalled = [s.status_after(started, "stalled") is not None for s in ctx.subscribers]
    result.check(
        "subscribers get status stalled",
        all(stalled),
        f"{sum(stalled)}/{len(stalled)} subscribers; {_first(ctx, 'stalled', started)}",
    )


def _after(ctx: ChaosContext, result: StepResult, continued_at: float) -> None:
    patience = ctx.options.patience
    # health first: its figure is the moment this wait sees it, so nothing may wait before it
    healthy = first_time(lambda: _clear_of_kis(_api_health(ctx)), patience, interval=0.5)
    result.check("API /health clear of KIS again", healthy is not None, seconds(healthy and healthy - continued_at))
    ctx.wait_all(lambda s: s.first_tick_after(continued_at) is not None, patience)
    firsts = [s.first_tick_after(continued_at) for s in ctx.subscribers]
    last = None if None in firsts else max(t for t in firsts if t is not None) - continued_at
    result.check("trades flow again after SIGCONT", last is not None, f"last subscriber after {seconds(last)}")
    # a status message follows the feed within seconds: a minute is patient enough, and a missing one costs less
    resumed = ctx.wait_all(lambda s: s.status_after(continued_at, "resumed") is not None, min(patience, 60.0))
    result.check(
        "subscribers get status resumed after SIGCONT",
        all(resumed),
        f"{sum(resumed)}/{len(resumed)} subscribers; {_first(ctx, 'resumed', continued_at)}",
    )


def _first(ctx: ChaosContext, stream: str, since: float) -> str:
    """When the last subscriber got the status message, counted from ``since``."""
    moments = [s.status_after(since, stream) for s in ctx.subscribers]
    if None in moments:
        return "not every subscriber"
    return f"the last after {seconds(max(m for m in moments if m is not None) - since)}"


def _kis_problems(answer: Timed | None) -> list[str] | None:
    """The problems naming KIS in a health answer (the API's inside its envelope's ``data``, the
    streamer's at the top); None when there was no answer."""
    if answer is None:
        return None
    data = answer.body.get("data")
    body: dict[str, Any] = data if isinstance(data, dict) else answer.body
    problems = list(body.get("problems") or [])
    streamer = body.get("streamer")
    if isinstance(streamer, dict):
        problems += list(streamer.get("problems") or [])
    return [str(p) for p in problems if "kis" in str(p).lower()]


def _reports_kis(answer: Timed | None) -> bool:
    """Degraded (503), naming KIS among its problems."""
    return answer is not None and answer.status == 503 and bool(_kis_problems(answer))


def _clear_of_kis(answer: Timed | None) -> bool:
    """Answering, and naming no KIS problem (a first start may still be loading the market: 503 for that)."""
    return _kis_problems(answer) == []


def _api_health(ctx: ChaosContext) -> Timed | None:
    try:
        return ctx.api.health(timeout=20)
    except (OSError, ValueError):
        return None


def _streamer_health(ctx: ChaosContext) -> Timed | None:
    try:
        return ctx.api.streamer_health()
    except (OSError, ValueError):
        return None


def _after_start(moment: float | None, started: float) -> str:
    return "never" if moment is None else f"{seconds(moment - started)} after SIGSTOP"
