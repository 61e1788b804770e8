"""Step 5: one user opens 300 sockets and subscribes each to 100 symbols (findings 4 and 5).

Other users' symbols keep their KIS slots throughout (slots go by distinct users, and one user's
connections and symbols are capped); the demand counts in Redis equal the connection registry;
and after every flood socket closes, demand is back to what the other users hold, with no
registry item left behind.
"""

from __future__ import annotations

import time

from kstock_local.chaos.context import ChaosContext
from kstock_local.chaos.registry import orphans, registered_demand, user_connections
from kstock_local.chaos.report import StepResult, seconds
from kstock_local.chaos.waiting import TimedOut, first_time, hold, wait_until

NUMBER, TITLE = 5, "300-socket subscribe flood"
# Fewer users than the flood has connections (5 by default): counted by raw subscriptions, the
# flood's symbols would outweigh theirs; counted by distinct users, theirs weigh twice as much.
OTHER_USERS = 2
OTHER_SYMBOLS = 3


def run(ctx: ChaosContext) -> StepResult:
    result = StepResult(NUMBER, TITLE)
    options, patience = ctx.options, ctx.options.patience
    theirs = ctx.fresh_symbols(OTHER_SYMBOLS)
    for n in range(OTHER_USERS):
        ctx.subscribers.append(ctx.sockets.subscribe(f"other{n}", ctx.api.sign_up(f"other{n}").token, theirs))
    try:
        wait_until(lambda: set(theirs) <= _streamed(ctx), patience, f"{theirs} to take KIS slots", 0.5)
        before = wait_until(lambda: _settled(ctx), patience, "demand to equal the registry before the flood", 0.5)
    except TimedOut as exc:
        result.check("other users' symbols streamed before the flood", False, str(exc))
        return result

    flooder = ctx.api.sign_up("flooder")
    wanted = ctx.fresh_symbols(options.flood_symbols)
    started = time.monotonic()
    outcome = ctx.sockets.flood(flooder.token, options.flood_sockets, wanted)
    unexpected = {status: n for status, n in outcome.refused.items() if status != 429}
    result.check(
        "connects past the per-user limit refused with 429",
        not unexpected and not outcome.failed,
        f"{len(outcome.accepted)} accepted, {outcome.refused} refused, {len(outcome.failed)} failed "
        f"in {seconds(time.monotonic() - started)}; subscribe replies {outcome.replies}",
    )

    kept, samples = _slots_kept(ctx, theirs, options.flood_hold_seconds)
    result.check("other users' symbols keep their KIS slots", kept == samples > 0, f"held in {kept}/{samples} samples")
    try:
        during = wait_until(lambda: _settled(ctx), patience, "demand to equal the registry", 0.5)
        result.check("demand equals the registry during the flood", True, f"{sum(during.values())} subscriptions")
    except TimedOut:
        result.check("demand equals the registry during the flood", False, _difference(ctx))

    ctx.sockets.close_flood()
    closed_at = time.monotonic()

    def released() -> bool:
        return user_connections(*ctx.aws, flooder.user_id) == 0 and _settled(ctx) == before

    moment = first_time(released, patience, 0.5)
    if moment is not None:
        figure = f"demand back to the other users' after {seconds(moment - closed_at)}"
    else:
        figure = _difference(ctx, before)
        if options.measure_late:  # how late it was, for the report (the command only: it costs time)
            late = first_time(released, patience, 0.5)
            figure += f"; settled only after {seconds(late and late - closed_at)}"
    result.check("nothing leaks after all flood sockets close", moment is not None, figure)
    # A $disconnect deletes META first, then the connection's items: demand can look settled (the
    # reconciler counts live connections only) while a removal is still under way. A leak is what
    # stays, so the rows get the step's patience to go before they count as orphans.
    cleared = first_time(lambda: not orphans(*ctx.aws), options.patience, 1.0)
    if cleared is None:
        left = orphans(*ctx.aws)
        figure = f"{sum(left.values())} orphan items after {seconds(patience)} (pk/sk kinds: {left})"
    else:
        figure = f"0 orphan items {seconds(cleared - closed_at)} after the flood closed"
    result.check("no registry item without its connection", cleared is not None, figure)
    return result


def _streamed(ctx: ChaosContext) -> set[str]:
    return set(ctx.api.ws_metrics().get("streamedSymbols") or [])


def _settled(ctx: ChaosContext) -> dict[str, int] | None:
    """The demand when ``ws:demand`` equals the registry's counts (None while they differ)."""
    counted = {str(k): int(v) for k, v in (ctx.api.ws_metrics().get("subscriptionsPerSymbol") or {}).items()}
    return counted if counted == registered_demand(*ctx.aws) else None


def _difference(ctx: ChaosContext, expected: dict[str, int] | None = None) -> str:
    counted = {str(k): int(v) for k, v in (ctx.api.ws_metrics().get("subscriptionsPerSymbol") or {}).items()}
    truth = registered_demand(*ctx.aws)
    drift = {
        s: (counted.get(s, 0), truth.get(s, 0))
        for s in set(counted) | set(truth)
        if counted.get(s, 0) != truth.get(s, 0)
    }
    text = f"{len(drift)} symbols differ (redis, registry): {dict(sorted(drift.items())[:5])}"
    if expected is not None:
        extra = {s: n for s, n in truth.items() if expected.get(s, 0) != n}
        text += f"; registry beyond the other users': {dict(sorted(extra.items())[:5])}"
    return text


def _slots_kept(ctx: ChaosContext, theirs: list[str], hold_for: float) -> tuple[int, int]:
    """Sample the streamed symbols while the flood holds; in how many samples all of ``theirs`` were in."""
    kept = samples = 0
    end = time.monotonic() + hold_for
    while time.monotonic() < end:
        samples += 1
        kept += set(theirs) <= _streamed(ctx)
        hold(0.5)  # a sampling period over a fixed window, not a wait for a condition
    return kept, samples
