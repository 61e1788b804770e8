"""Step 1: ``kill -9`` the embedded Redis (issue 17, findings 1-3).

It must come back by itself (``kstock up`` supervises it); the subscriptions that were open get
ticks again within 5 s of it answering, without the clients doing anything; a token logged out
before the kill stays refused (revocations live in Postgres); and the trades stored in Postgres
across the outage form an unbroken chain (nothing lost, nothing twice).
"""

from __future__ import annotations

from kstock_local.chaos.context import WATCHED, ChaosContext
from kstock_local.chaos.recovery import check_ticks_resume, kill_until_back
from kstock_local.chaos.report import StepResult, seconds
from kstock_local.chaos.ticks import chain
from kstock_local.chaos.waiting import TimedOut

NUMBER, TITLE = 1, "kill -9 Redis"
RESUME_BUDGET = 5.0


def run(ctx: ChaosContext) -> StepResult:
    result = StepResult(NUMBER, TITLE)
    revoked = ctx.api.sign_up("revoked")
    bystander = ctx.api.sign_up("bystander")
    logout = ctx.api.logout(revoked)
    if not result.check("logout before the kill", logout.status == 200, f"HTTP {logout.status}"):
        return result
    try:
        anchors = ctx.unbroken_marks(ctx.options.patience)
    except TimedOut as exc:
        result.check("a trade of every default symbol stored before the kill", False, str(exc))
        return result
    # every default symbol that has traded yet (a quiet one may not have); the watched ones at least
    if not result.check("default symbols stored before the kill", set(WATCHED) <= set(anchors), str(anchors)):
        return result

    victim = ctx.stack.redis_server()
    _, back_at = kill_until_back(
        ctx, result, victim, lambda: _restarted(ctx, victim.pid), "Redis restarted by kstock up", "answering"
    )
    if back_at is None:
        return result
    # ticks in flight before the kill may land after it: only a tick after Redis answers again counts
    check_ticks_resume(
        ctx, result, back_at, back_at, "open subscriptions get ticks again", RESUME_BUDGET, "Redis answering"
    )

    rest = ctx.api.favorites(revoked)
    socket = ctx.sockets.refused_status(revoked.token)
    live = ctx.api.favorites(bystander)
    result.check("revoked token refused by REST", rest.status == 401, f"HTTP {rest.status}")
    result.check("revoked token refused by the WebSocket", socket == 401, f"connect {socket or 'accepted'}")
    result.check("a live token still works", live.status == 200, f"HTTP {live.status}")

    _check_chain(ctx, result, anchors)
    return result


def _restarted(ctx: ChaosContext, old_pid: int) -> bool:
    try:
        return ctx.stack.redis_server().pid != old_pid and ctx.redis_answers()
    except LookupError:
        return False


def _check_chain(ctx: ChaosContext, result: StepResult, anchors: dict[str, int]) -> None:
    """The watched symbols' trades from before the kill to now, as Postgres stored them."""
    try:
        targets = ctx.marks_after_recovery(anchors, ctx.options.patience)
        waited = ctx.wait_stored(targets, ctx.options.patience)
    except TimedOut as exc:
        result.check("ticks stored after the outage", False, str(exc))
        return
    chains = [chain(ctx.database_url, s, anchors[s], targets[s]) for s in anchors]
    lost, doubled = sum(c.lost_shares for c in chains), sum(c.duplicated_shares for c in chains)
    steps = sum(c.steps for c in chains)
    result.check(
        "stored ticks caught up",
        True,
        f"{seconds(waited)} after the first trade past the kill; {steps} trade steps checked",
    )
    result.check("0 ticks lost in Postgres", lost == 0 and steps > 0, f"{lost} shares missing")
    result.check("0 ticks duplicated in Postgres", doubled == 0, f"{doubled} shares twice")
