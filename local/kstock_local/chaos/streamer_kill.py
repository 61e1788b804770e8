"""Step 2: ``kill -9`` the streamer.

``kstock up`` restarts it; the open subscriptions get KIS trades again within 5 s of the kill, and
the reconnect snapshot reaches them: one REST quote of every streamed symbol (``"source":"poll"``)
so that no client keeps a stale price (docs/architecture.md, section 2.1).
"""

from __future__ import annotations

from kstock_local.chaos.context import WATCHED, ChaosContext
from kstock_local.chaos.recovery import check_ticks_resume, kill_until_back
from kstock_local.chaos.report import StepResult
from kstock_local.chaos.sockets import Subscriber

NUMBER, TITLE = 2, "kill -9 the streamer"
RESUME_BUDGET = 5.0


def run(ctx: ChaosContext) -> StepResult:
    result = StepResult(NUMBER, TITLE)
    patience = ctx.options.patience
    victim = ctx.stack.streamer()
    killed_at, restarted = kill_until_back(
        ctx, result, victim, lambda: _replaced(ctx, victim.pid), "streamer restarted by kstock up", "new process"
    )
    if restarted is None:
        return result
    check_ticks_resume(
        ctx, result, restarted, killed_at, "open subscriptions get KIS ticks again", RESUME_BUDGET, "the kill"
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
