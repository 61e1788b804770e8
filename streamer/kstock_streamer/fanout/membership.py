"""Fan-out workers find each other in Redis (issue 18, "then scale out").

Each worker (``python -m kstock_streamer --role fanout``) keeps its id in the sorted set
``fanout:workers`` with its heartbeat's expiry as the score (Redis ``TIME``, one clock for all), refreshed
every ``FANOUT_HEARTBEAT_SECONDS``; a member whose expiry passed (3 heartbeats missed: a killed task) is
pruned by whichever worker beats next. K is the number of live members and a worker's share is its rank
among their ids (:class:`~kstock_streamer.fanout.partition.Partition`). Joining and leaving are announced
on ``fanout:members`` so the others re-read the set at once instead of at their next heartbeat.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable
from typing import cast

import redis.asyncio as aioredis

from kstock import keys
from kstock_streamer.fanout.partition import Partition

log = logging.getLogger("kstock_streamer.fanout")

LEASE_HEARTBEATS = 3


def new_worker_id() -> str:
    """Unique per process: host, pid and a random suffix (a restarted task never reuses a live id)."""
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Membership:
    def __init__(self, redis: aioredis.Redis, worker_id: str, heartbeat: float = 2.0) -> None:
        self.redis = redis
        self.worker_id = worker_id
        self.heartbeat = heartbeat
        self.lease = heartbeat * LEASE_HEARTBEATS
        self.members: list[str] = []

    async def _now(self) -> float:
        seconds, micros = await cast(Awaitable[tuple[int, int]], self.redis.time())
        return seconds + micros / 1e6

    async def beat(self) -> Partition:
        """Refresh this worker's lease, prune lapsed members, and say what this worker owns now."""
        now = await self._now()
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(keys.FANOUT_WORKERS, {self.worker_id: now + self.lease})
        pipe.zremrangebyscore(keys.FANOUT_WORKERS, "-inf", now)
        pipe.zrange(keys.FANOUT_WORKERS, 0, -1)
        *_, members = await pipe.execute()
        self.members = sorted(members)
        return Partition.among(self.worker_id, self.members)

    async def join(self) -> Partition:
        partition = await self.beat()
        await self.redis.publish(keys.FANOUT_MEMBERS_CHANNEL, self.worker_id)
        return partition

    async def announce(self) -> None:
        """The membership changed as this worker sees it (a member lapsed): the others re-read it."""
        await self.redis.publish(keys.FANOUT_MEMBERS_CHANNEL, self.worker_id)

    async def leave(self) -> None:
        """Out of the set at once (a graceful stop): the others take this worker's connections now."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(keys.FANOUT_WORKERS, self.worker_id)
        pipe.publish(keys.FANOUT_MEMBERS_CHANNEL, self.worker_id)
        await pipe.execute()
