"""Step 2: ``kill -9`` the streamer.

``kstock up`` restarts it; the open subscriptions get KIS trades again within 5 s of the kill, and
the reconnect snapshot reaches them: one REST quote of every streamed symbol (``"source":"poll"``)
so that no client keeps a stale price (docs/architecture.md, section 2.1).
"""

from __future__ import annotations

import time

from kstock_local.chaos.context import WATCHED, ChaosContext
from kstock_local.chaos.faults import kill_hard
from kstock_local.chaos.report import StepResult, seconds
from kstock_local.chaos.sockets import Subscriber
from kstock_local.chaos.waiting import first_time

NUMBER, TITLE = 2, "kill -9 the streamer"
RESUME_BUDGET = 5.0


def run(ctx: ChaosContext) -> StepResult:
    result = StepResult(NUMBER, TITLE)
    patience = ctx.options.patience
    victim = ctx.stack.streamer()
    killed_at = time.monotonic()
    kill_hard(victim)

    restarted = first_time(lambda: _replaced(ctx, victim.pid), patience)
    result.check(
        "streamer restarted by kstock up",
        restarted is not None,
        f"new process after {seconds(restarted and restarted - killed_at)}",
    )
    if restarted is None:
        return result

    resumed = ctx.wait_all(lambda s: s.first_tick_after(restarted) is not None, patience)
    firsts = [s.first_tick_after(restarted) for s in ctx.subscribers]
    everyone = None if None in firsts else max(f for f in firsts if f is not None) - killed_at
    result.check(
        "open subscriptions get KIS ticks again",
        all(resumed),
        f"{sum(resumed)}/{len(resumed)} subscribers",
    )
    result.check(
        f"... within {RESUME_BUDGET:g} s of the kill",
        everyone is not None and everyone <= RESUME_BUDGET,
        f"last subscriber after {seconds(everyone)}",
        budget=True,
    )

    # the snapshot: a REST quote of a streamed symbol, pushed to the clients after the restart
    # waited for until each subscriber has a quote of every watched symbol: another poll-sourced price
    # (a symbol without a slot a moment, the REST polling route) must not end the wait before the snapshot
    snapshot = ctx.wait_all(lambda s: _quoted(s, restarted) >= set(WATCHED), min(patience, 30.0))
    received = sum(snapshot)
    quoted = sorted({r.message["symbol"] for s in ctx.subscribers for r in s.ticks(restarted, source="poll")})
    result.check(
        "reconnect snapshot sent to the subscribers",
        received == len(snapshot) and set(quoted) == set(WATCHED),
        f"{received}/{len(snapshot)} subscribers got quotes of {quoted or 'nothing'}; "
        f"streamer counted {ctx.streamer_status().get('snapshots')} snapshot quotes",
    )
    return result


def _quoted(subscriber: Subscriber, since: float) -> set[str]:
    return {str(r.message.get("symbol")) for r in subscriber.ticks(since, source="poll")}


def _replaced(ctx: ChaosContext, old_pid: int) -> bool:
    try:
        return ctx.stack.streamer().pid != old_pid
    except LookupError:
        return False
