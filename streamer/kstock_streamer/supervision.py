"""Long-lived tasks that never end the process: run one, restart it a second after any failure, and keep
what a health check needs to name it (the streamer's tasks, a fan-out worker)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("streamer")

RESTART_SECONDS = 1.0

# A task restarted after a failure counts as failing until it has run this long without another.
TASK_RECOVERY_SECONDS = 10.0


@dataclass
class TaskHealth:
    """How one supervised task is doing: what a health check needs to name the broken part."""

    failures: int = 0  # consecutive failures (reset once it runs TASK_RECOVERY_SECONDS)
    last_error: str | None = None
    last_error_at: float | None = None
    running_since: float = field(default_factory=time.monotonic)

    def started(self) -> None:
        now = time.monotonic()
        if self.failures and self.last_error_at is not None and now - self.last_error_at > TASK_RECOVERY_SECONDS:
            self.failures = 0
        self.running_since = now

    def failed(self, exc: BaseException) -> None:
        if time.monotonic() - self.running_since > TASK_RECOVERY_SECONDS:
            self.failures = 0  # it had recovered: this is a new failure, not the same one again
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self.last_error_at = time.monotonic()

    @property
    def failing(self) -> bool:
        return self.failures > 0 and time.monotonic() - self.running_since < TASK_RECOVERY_SECONDS

    def wire(self) -> dict[str, object]:
        return {
            "state": "failing" if self.failing else "running",
            "failures": self.failures,
            "lastError": self.last_error,
        }


async def supervise(
    what: str, fn: Callable[[], Awaitable[None]], health: TaskHealth, stopping: asyncio.Event | None = None
) -> None:
    """Run ``fn`` until it returns or ``stopping`` is set; a failure is logged (a repeat of the same error in
    one line, not a traceback every second), counted in ``health`` and restarted after RESTART_SECONDS."""
    while stopping is None or not stopping.is_set():
        health.started()
        try:
            await fn()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an outage in one task never ends the process
            repeated = health.failures > 0 and health.last_error == f"{type(exc).__name__}: {exc}"[:300]
            health.failed(exc)
            if repeated:
                log.warning("%s failed again (%d in a row): %s", what, health.failures, health.last_error)
            else:
                log.exception("%s failed; restarting in %.0fs", what, RESTART_SECONDS)
            await asyncio.sleep(RESTART_SECONDS)
