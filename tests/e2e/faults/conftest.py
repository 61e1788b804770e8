"""One `kstock up` for the whole fault suite (tests/e2e/faults), with subscribers receiving ticks.

The steps are the command's (`kstock chaos`, local/kstock_local/chaos); here they run with shorter
faults so that the directory fits in `make test` time, and each test asserts only the behavioural
checks of its step. The issue's timing budgets (5 s, 10 s, 100 ms p95) are `kstock chaos`'s to
assert: a busy CI machine is no measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kstock_local.chaos import context
from kstock_local.chaos.context import ChaosContext, Options
from kstock_local.chaos.harness import run_step
from kstock_local.chaos.report import StepResult

# The faults as `make test` runs them (`kstock chaos` runs the issue's own figures): KIS hangs 25 s
# (60; the stall shows after KIS_STALL_SECONDS), Postgres stops 10 s (30), 12 sockets flood (300:
# their connects alone take minutes here; 12 is still over twice the per-user limit) and hold 10 s
# (20), the login flood lasts 6 s (15) with its 24 concurrent logins. The steps start once the API
# answers and the streamer streams, while the first market load goes on, and a recovery is waited for
# 90 s before its check fails.
OPTIONS = Options(
    settled=False,
    measure_late=False,
    kis_hang_seconds=25.0,
    postgres_stop_seconds=10.0,
    flood_sockets=12,
    flood_hold_seconds=10.0,
    login_flood_seconds=6.0,
    patience=90.0,
)


@pytest.fixture(scope="session")
def chaos(request: pytest.FixtureRequest) -> Iterator[ChaosContext]:
    running = context.start(OPTIONS)
    failed_before = request.session.testsfailed
    try:
        yield running
    finally:
        log = context.finish(running, failed=request.session.testsfailed > failed_before)
        if log is not None:
            print(f"\nkstock up's log of the failed fault suite: {log}")


@pytest.fixture
def behaves(chaos: ChaosContext) -> Callable[[int], StepResult]:
    """Run a step; fail with its whole report if any behavioural check failed."""

    def run(number: int) -> StepResult:
        result = run_step(chaos, number)
        print(result.explain())
        assert result.error is None and not result.behaviour_failures(), result.explain()
        return result

    return run
