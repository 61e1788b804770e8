"""Step 4: Postgres stops answering for 30 s (SIGSTOP the postmaster and every backend).

The tick writer's statements hang; entries wait in the Redis stream (acknowledged only after a
commit). After SIGCONT the writer catches up, and the stored trades across the stop form an
unbroken chain: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import time

from kstock_local.chaos.context import WATCHED, ChaosContext
from kstock_local.chaos.faults import freeze, thaw
from kstock_local.chaos.report import StepResult, seconds
from kstock_local.chaos.ticks import chain
from kstock_local.chaos.waiting import TimedOut, hold

NUMBER, TITLE = 4, "stop Postgres (SIGSTOP)"


def run(ctx: ChaosContext) -> StepResult:
    result = StepResult(NUMBER, TITLE)
    database_url = ctx.database_url  # read before: nothing answers from Postgres while it is stopped
    try:
        anchors = ctx.unbroken_marks(ctx.options.patience)
    except TimedOut as exc:
        result.check("a trade of every default symbol stored before the stop", False, str(exc))
        return result
    # every default symbol that has traded yet (a quiet one may not have); the watched ones at least
    if not result.check("default symbols stored before the stop", set(WATCHED) <= set(anchors), str(anchors)):
        return result
    processes = freeze(ctx.stack.postgres())
    stopped_at = time.monotonic()
    try:
        hold(ctx.options.postgres_stop_seconds)
    finally:
        thaw(processes)
    continued_at = time.monotonic()
    result.check("Postgres stopped for", True, f"{seconds(continued_at - stopped_at)} ({len(processes)} processes)")
    try:
        targets = ctx.marks_after_recovery(anchors, ctx.options.patience)
        waited = ctx.wait_stored(targets, ctx.options.patience)
    except TimedOut as exc:
        result.check("ticks stored after the stop", False, str(exc))
        return result
    chains = [chain(database_url, s, anchors[s], targets[s]) for s in anchors]
    lost, doubled = sum(c.lost_shares for c in chains), sum(c.duplicated_shares for c in chains)
    steps, rows = sum(c.steps for c in chains), sum(c.ticks for c in chains)
    result.check(
        "writer caught up",
        True,
        f"{seconds(waited)} after the first trade past the stop; {rows} ticks, {steps} trade steps",
    )
    result.check(
        "0 ticks lost", lost == 0 and steps > 0, f"{lost} shares missing in {sum(c.short_steps for c in chains)} steps"
    )
    result.check(
        "0 ticks duplicated", doubled == 0, f"{doubled} shares twice in {sum(c.long_steps for c in chains)} steps"
    )
    return result
