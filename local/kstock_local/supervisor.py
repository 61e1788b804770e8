"""Supervision of the local stack's parts: child processes with prefixed logs, restarted when they
crash, and in-process asyncio tasks restarted the same way."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kstock_local.embedded import EmbeddedRedis, EmbeddedServiceError, die_with_parent


def log(component: str, message: str) -> None:
    print(f"[{component}] {message}", flush=True)


@dataclass
class ManagedProcess:
    """A child process whose output lines are prefixed with its name; restarted after a crash."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    restart_delay: float = 1.0
    max_restart_delay: float = 60.0
    stable_after: float = 60.0
    restarts: int = 0
    next_delay: float = 0.0
    _process: asyncio.subprocess.Process | None = None
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False
    _started_at: float = 0.0

    async def start(self) -> None:
        await self._spawn()
        self._task = asyncio.create_task(self._supervise(), name=f"supervise-{self.name}")

    async def _spawn(self) -> None:
        self._started_at = asyncio.get_running_loop().time()
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            env={**os.environ, **self.env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def _supervise(self) -> None:
        while True:
            assert self._process is not None and self._process.stdout is not None
            async for line in self._process.stdout:
                print(f"[{self.name}] {line.decode(errors='replace').rstrip()}", flush=True)
            code = await self._process.wait()
            if self._stopping:
                return
            self.restarts += 1
            ran_for = asyncio.get_running_loop().time() - self._started_at
            self.next_delay = backoff(
                self.next_delay, ran_for, self.restart_delay, self.max_restart_delay, self.stable_after
            )
            log(
                "up",
                f"{self.name} exited with code {code}; restarting in {self.next_delay:.0f}s (restart #{self.restarts})",
            )
            await asyncio.sleep(self.next_delay)
            await self._spawn()

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        if self._process and self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), timeout)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def backoff(previous: float, ran_for: float, base: float, maximum: float, stable_after: float) -> float:
    """The wait before the next restart: ``base`` after a run that lasted ``stable_after``, else
    double the last wait (up to ``maximum``), so a component crashing at start-up is retried ever
    more slowly instead of logging the same failure every second (issue 17: 4.4 MB in 14 minutes)."""
    if previous <= 0 or ran_for >= stable_after:
        return base
    return min(maximum, previous * 2)


class RepeatedLog:
    """Log a message once, then count its identical repeats ("repeated 37 times") instead of
    printing each; a different message, or a repeat count that is a power of ten, reports them."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.last: str | None = None
        self.repeats = 0

    def __call__(self, message: str) -> None:
        if message == self.last:
            self.repeats += 1
            if self.repeats in (10, 100, 1000, 10_000):
                log(self.component, f"{message} (repeated {self.repeats} times)")
            return
        if self.repeats and self.repeats not in (10, 100, 1000, 10_000):
            log(self.component, f"previous message repeated {self.repeats} times")
        self.last, self.repeats = message, 0
        log(self.component, message)


def supervise_task(
    name: str,
    factory: Callable[[], Awaitable[None]],
    restart_delay: float = 1.0,
    max_restart_delay: float = 60.0,
    stable_after: float = 60.0,
) -> asyncio.Task[None]:
    """Run ``factory()`` as a task; if it raises, report (once per distinct error) and run it
    again after a growing delay."""

    async def loop() -> None:
        report = RepeatedLog(name)
        delay = 0.0
        clock = asyncio.get_running_loop().time
        while True:
            started = clock()
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a crashed component is reported and restarted, never fatal
                report(f"crashed: {type(exc).__name__}: {exc}; restarting")
                delay = backoff(delay, clock() - started, restart_delay, max_restart_delay, stable_after)
                await asyncio.sleep(delay)

    return asyncio.create_task(loop(), name=name)


async def keep_embedded_redis(redis: EmbeddedRedis, check_every: float = 0.5, start_timeout: float = 30.0) -> None:
    """Restart the embedded Redis whenever it dies (``kill -9``, out of memory), like every other
    child: it was started before the event loop, so it is watched here rather than by a
    :class:`ManagedProcess`. It reloads its append-only file; what it cannot hold (demand, the
    caches) its users rebuild from the durable stores."""
    restarts = 0
    while True:
        await asyncio.sleep(check_every)
        code = redis.exit_code()
        if code is None:
            continue
        restarts += 1
        log("up", f"redis exited with code {code}; restarting (restart #{restarts})")
        redis.relaunch()
        deadline = asyncio.get_running_loop().time() + start_timeout
        try:
            while not redis.started():
                if asyncio.get_running_loop().time() > deadline:
                    raise EmbeddedServiceError(f"redis did not accept connections within {start_timeout:.0f}s")
                await asyncio.sleep(0.05)
        except EmbeddedServiceError as exc:
            log("up", f"redis restart failed: {exc}; trying again")
            continue
        log("up", f"redis is back on port {redis.port}")


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
