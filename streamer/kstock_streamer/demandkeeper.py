"""Demand that cannot be lost or drift: rebuilt when Redis comes back empty, reconciled periodically.

The connection registry (DynamoDB) is the source of truth; the demand hashes in Redis
(``ws:demand``, ``ws:demand:users``, ``ws:demand:by-user``) are derived from it (issue 17, findings
1 and 4):

* **Empty Redis.** The streamer keeps ``streamer:epoch`` (no TTL). A Redis that restarted without
  its data has no epoch: before planning again the demand hashes are rebuilt from the registry and
  the epoch set, so the KIS slots and the polling go on as the clients still want them.
* **Drift.** Every ``DEMAND_RECONCILE_SECONDS`` the hashes are compared with the registry and only
  the names that differ are repaired; each repair is logged once with its figures and counted in
  the streamer's status (``demand.repairs``).

Both read the registry with a Scan (:func:`kstock.realtime.registry.live_subscriptions`), in a
thread: never on a request's path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from kstock import keys
from kstock.realtime import demand

log = logging.getLogger("streamer.demand")


@dataclass
class DemandKeeper:
    redis: aioredis.Redis
    interval: float = 60.0
    rebuilds: int = 0
    repairs: int = 0
    checks: int = 0
    last_rebuild_at: float | None = None
    last_repair_at: float | None = None
    last_drift: dict[str, Any] | None = field(default=None)

    async def ensure(self) -> bool:
        """Rebuild demand from the registry when Redis lost the epoch (came back empty); whether it did."""
        if await cast(Awaitable[int], self.redis.exists(keys.STREAMER_EPOCH)):
            return False
        truth = await asyncio.to_thread(demand.registered_demand)
        pipe = self.redis.pipeline(transaction=True)
        demand.queue_replace(pipe, truth)
        pipe.set(keys.STREAMER_EPOCH, json.dumps({"since": time.time()}))
        await pipe.execute()
        self.rebuilds += 1
        self.last_rebuild_at = time.time()
        log.warning(
            "demand rebuilt from the connection registry (Redis had no %s): %d subscriptions of %d symbols",
            keys.STREAMER_EPOCH,
            sum(truth.counts.values()),
            len(truth.counts),
        )
        return True

    async def held(self) -> demand.Demand:
        """The three hashes as of one moment (MULTI/EXEC): read apart, a change between two of the reads made
        one round repair half of a drift and the next round the rest."""
        pipe = self.redis.pipeline(transaction=True)
        for key in demand.HASHES:
            pipe.hgetall(key)
        answers = await pipe.execute()
        return demand.from_hashes(dict(zip(demand.HASHES, answers, strict=True)))

    async def reconcile(self) -> demand.Drift:
        """Compare the demand hashes with the registry; repair and report what drifted.

        Redis is read before and after the registry's Scan, and only names unchanged between the two
        reads are repaired, under WATCH: a subscription announced meanwhile is never overwritten."""
        before = await self.held()
        truth = await asyncio.to_thread(demand.registered_demand)
        self.checks += 1
        try:
            drift = await self._repair(before, truth)
        except WatchError:  # demand changed while repairing: the next round looks again
            return demand.Drift()
        if drift:
            self.repairs += 1
            self.last_repair_at = time.time()
            self.last_drift = drift.figures()
            log.warning("demand drift repaired: %s", json.dumps(self.last_drift, separators=(",", ":")))
        return drift

    async def _repair(self, before: demand.Demand, truth: demand.Demand) -> demand.Drift:
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(*demand.HASHES)
            answers = {key: await cast(Awaitable[dict[str, str]], pipe.hgetall(key)) for key in demand.HASHES}
            after = demand.from_hashes(answers)
            drift = demand.steady(demand.compare(after, truth), before, after)
            if drift:
                pipe.multi()  # type: ignore[no-untyped-call, unused-ignore]  # redis-py: unannotated
                demand.queue_repair(pipe, drift)
                await pipe.execute()
        return drift

    async def run(self) -> None:
        """The periodic reconciler (a supervised streamer task)."""
        while True:
            await asyncio.sleep(self.interval)
            await self.ensure()
            await self.reconcile()

    def status(self) -> dict[str, object]:
        return {
            "rebuilds": self.rebuilds,
            "lastRebuildAt": self.last_rebuild_at,
            "reconcileSeconds": self.interval,
            "checks": self.checks,
            "repairs": self.repairs,
            "lastRepairAt": self.last_repair_at,
            "lastDrift": self.last_drift,
        }
