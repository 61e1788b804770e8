"""Schedule / ScheduleV2 event sources: fire functions at their expressions' times with
EventBridge-shaped events. A fast clock (``kstock up --fast-clock N``) runs time N times faster
for demos and tests: fire times are computed in that virtual time."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from kstock_local.cloud.events.schedule import Schedule, parse_schedule
from kstock_local.cloud.lambdas.pool import FunctionError, LocalFunction
from kstock_local.cloud.template import LOCAL_ACCOUNT, ScheduleEvent
from kstock_local.supervisor import log


class Clock:
    """Wall-clock time, optionally running ``speed`` times faster from the moment it was made."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._started) * self.speed)

    async def sleep_until(self, moment: datetime) -> None:
        while (remaining := (moment - self.now()).total_seconds()) > 0:
            await asyncio.sleep(remaining / self.speed)


def scheduled_event(rule_arn: str, fired_at: datetime, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": fired_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class ScheduledFunction:
    def __init__(self, source: ScheduleEvent, function: LocalFunction, clock: Clock, region: str) -> None:
        self.source = source
        self.function = function
        self.clock = clock
        self.region = region
        self.schedule: Schedule = parse_schedule(source.expression, source.timezone).anchored(clock.now())
        self.rule_arn = f"arn:aws:events:{region}:{LOCAL_ACCOUNT}:rule/{function.spec.logical_id}-{source.name}"
        self.fired = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def event(self, fired_at: datetime) -> dict[str, Any]:
        if self.source.input is not None:  # a rule with Input sends that JSON instead
            event: dict[str, Any] = json.loads(self.source.input)
            return event
        return scheduled_event(self.rule_arn, fired_at, self.region)

    async def _invoke(self, event: dict[str, Any]) -> None:
        try:
            await self.function.invoke(event)
        except FunctionError as exc:
            log("scheduler", f"{self.function.spec.logical_id} failed: {exc}")

    async def run(self) -> None:
        while True:
            fire_at = self.schedule.next_after(self.clock.now())
            if fire_at is None:
                return
            await self.clock.sleep_until(fire_at)
            self.fired += 1
            # Like EventBridge, a slow invocation does not delay the next one.
            task = asyncio.create_task(self._invoke(self.event(fire_at)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
