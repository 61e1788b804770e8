"""``python -m kstock_streamer --role fanout``: one of K fan-out workers, nothing else (issue 18).

The worker joins ``fanout:workers`` (:mod:`.membership`), owns the connections whose id hashes to its
share (:mod:`.partition`), reads the same Redis channels as every other worker and posts to its
connections. The KIS session, the planner, the poller, the demand reconciler and the tick writer stay in
the single ingest streamer (run with ``STREAMER_FANOUT=off``). It serves ``/health`` (503 while the index
is not built or the fan-out keeps failing) and the SSE routes, and writes its status to
``fanout:status:{worker}`` every second (``kstock up`` and ``kstock bench fanout`` read it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from kstock import keys
from kstock_streamer.fanout.engine import Fanout
from kstock_streamer.fanout.membership import new_worker_id
from kstock_streamer.fanout.options import FanoutOptions
from kstock_streamer.supervision import TaskHealth, supervise

log = logging.getLogger("kstock_streamer.fanout")


@dataclass
class FanoutWorker:
    redis: aioredis.Redis
    options: FanoutOptions = field(default_factory=FanoutOptions.from_settings)
    fanout: Fanout = field(init=False)
    started_at: float = field(default_factory=time.time)
    health: TaskHealth = field(default_factory=TaskHealth)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.options.worker_id is None:
            self.options.worker_id = new_worker_id()
        self.fanout = Fanout(self.redis, self.options)

    @property
    def worker_id(self) -> str:
        return self.options.worker_id or ""

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._supervised(), name="fanout"),
            asyncio.create_task(self._report(), name="fanout-status"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)  # the fan-out leaves the membership
        try:
            await asyncio.wait_for(self.fanout.close(), 3)
        except TimeoutError:
            log.warning("shutdown: the fan-out's calls did not finish within 3s; going on")

    async def _supervised(self) -> None:
        """The fan-out, restarted a second after any failure (a Redis outage, a registry error)."""
        await supervise("fan-out worker", self.fanout.run, self.health)

    def problems(self) -> list[str]:
        if self.fanout.ready.is_set():
            return []
        if self.health.failing:
            return [f"fanout keeps failing: {self.health.last_error}"]
        return ["fanout: not ready (rebuilding its index)"]

    def status(self) -> dict[str, Any]:
        problems = self.problems()
        return {
            "ok": not problems,
            "problems": problems,
            "role": "fanout",
            "worker": self.worker_id,
            "reportedAt": time.time(),
            "uptimeSeconds": round(time.time() - self.started_at, 1),
            "failures": self.health.failures,
            "lastError": self.health.last_error,
            "fanout": self.fanout.status(),
        }

    async def _report(self) -> None:
        while True:
            try:
                await self.redis.set(keys.fanout_worker_status(self.worker_id), json.dumps(self.status()), ex=10)
            except (RedisError, OSError):
                pass
            await asyncio.sleep(1)


def health_app(worker: FanoutWorker) -> web.Application:
    from kstock_streamer import sse

    async def health(_request: web.Request) -> web.Response:
        status = worker.status()
        healthy = bool(status["ok"])
        return web.json_response({"status": "ok" if healthy else "degraded", **status}, status=200 if healthy else 503)

    app = web.Application()
    app.router.add_get("/health", health)
    sse.add_routes(app, worker.redis)  # GET /stream/stocks, as the streamer serves it
    return app
