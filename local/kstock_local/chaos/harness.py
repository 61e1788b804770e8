"""Run the chosen steps against one stack, in order, and report each one's figures.

A step that raises is a failed step (its error is reported), never the end of the run: the next
step still runs against whatever the stack has become. The login flood runs last whatever order
is asked for: it starts the per-IP login back-off, which would refuse later steps' logins.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from types import ModuleType

from kstock_local.chaos import (
    context,
    kis_hang,
    login_flood,
    postgres_stop,
    redis_kill,
    streamer_kill,
    subscribe_flood,
)
from kstock_local.chaos.context import ChaosContext, Options
from kstock_local.chaos.report import StepResult
from kstock_local.chaos.stack import StackDied

STEPS: dict[int, ModuleType] = {
    module.NUMBER: module
    for module in (redis_kill, streamer_kill, kis_hang, postgres_stop, subscribe_flood, login_flood)
}


def run_step(ctx: ChaosContext, number: int) -> StepResult:
    module = STEPS[number]
    try:
        ctx.stack.alive()  # a stack that died or stopped in an earlier step says so here, not as a refused socket
        result: StepResult = module.run(ctx)
    except Exception as exc:  # a broken step is reported with its cause; the next one still runs
        result = StepResult(number, module.TITLE, error=f"{type(exc).__name__}: {exc}")
        result.error = (result.error or "") + "\n" + traceback.format_exc(limit=4) + _stack_death(ctx)
    return result


def _stack_death(ctx: ChaosContext) -> str:
    """When the step failed because ``kstock up`` itself is gone: its exit code and last log lines."""
    try:
        ctx.stack.alive()
    except StackDied as died:
        return f"\n{died}"
    return ""


def run_steps(options: Options, keep: bool = False, say: Callable[[str], None] = print) -> list[StepResult]:
    say(f"chaos: starting kstock up (steps {', '.join(map(str, options.steps))})")
    ctx = context.start(options, keep=keep)
    say(f"chaos: stack ready at {ctx.stack.api_url}; {len(ctx.subscribers)} subscribers receiving ticks")
    results = []
    try:
        for number in sorted(options.steps, key=lambda n: (n == login_flood.NUMBER, n)):
            say(f"chaos: step {number} ({STEPS[number].TITLE})")
            result = run_step(ctx, number)
            say(result.explain())
            results.append(result)
    finally:
        if keep:
            say(f"chaos: the stack's directory is kept: {ctx.stack.root} (log {ctx.stack.log})")
        log = context.finish(ctx, failed=len(results) < len(options.steps) or not all(r.passed for r in results))
        if log is not None:
            say(f"chaos: kstock up's log is kept: {log}")
    return results
