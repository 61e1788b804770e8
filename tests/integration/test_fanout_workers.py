"""K fan-out workers (issue 18, "then scale out"): real ``python -m kstock_streamer --role fanout``
processes over real Redis, moto's registry and the local gateway's WebSocket API. Each worker owns the
connections whose id hashes to its share; together they deliver every tick to every client exactly
once, and when one dies the survivor takes its connections once its heartbeat lapses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from support.live import open_client, recv_json, subscribe
from support.waiting import wait_for
from websockets.sync.client import ClientConnection

from kstock import keys
from kstock_local.cloud.runtime import LocalCloud
from kstock_local.embedded import free_port

SYMBOL = "005930"
HEARTBEAT = "0.5"  # a killed worker lapses after 3 of them


class Workers:
    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        env = {**self.environment, "STREAMER_HEALTH_PORT": str(free_port())}
        proc = subprocess.Popen(
            [sys.executable, "-m", "kstock_streamer", "--role", "fanout"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(env: dict[str, str], services: dict[str, str], r: redis.Redis) -> Iterator[Workers]:
    r.delete(keys.FANOUT_WORKERS)
    environment = {
        **os.environ,
        **services,
        **env,
        "FANOUT_HEARTBEAT_SECONDS": HEARTBEAT,
        "LOG_LEVEL": "WARNING",
    }
    running = Workers(environment)
    try:
        yield running
    finally:
        running.stop_all()
        r.delete(keys.FANOUT_WORKERS)


def statuses(r: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every live worker's status (``fanout:status:{worker}``), by worker id."""
    found = {}
    for worker in r.zrange(keys.FANOUT_WORKERS, 0, -1):
        raw = r.get(keys.fanout_worker_status(worker))
        if raw:
            found[worker] = json.loads(raw)
    return found


def settled(r: redis.Redis, count: int, connections: int) -> dict[str, dict[str, Any]] | None:
    """The workers' statuses once ``count`` of them are ready, each knows it is one of ``count``, and
    together they hold ``connections`` connections (none twice: the sum would be more)."""
    found = statuses(r)
    fanouts = [s["fanout"] for s in found.values()]
    if len(fanouts) != count or not all(f["ready"] and f["partition"]["count"] == count for f in fanouts):
        return None
    if sorted(f["partition"]["index"] for f in fanouts) != list(range(count)):
        return None
    return found if sum(f["connections"] for f in fanouts) == connections else None


def tick(acc: int) -> str:
    return json.dumps(
        {
            "type": "tick",
            "symbol": SYMBOL,
            "price": 70_000,
            "volume": 1,
            "accVolume": acc,
            "change": 0,
            "changePercent": 0.0,
            "timestamp": "2026-01-05T00:00:00Z",
            "source": "ws",
        }
    )


def deliver_round(r: redis.Redis, clients: list[ClientConnection], first: int, count: int) -> None:
    """Publish ``count`` ticks then a sentinel; every client gets each tick exactly once, in order.
    One connection's messages come from one worker in order, so after the sentinel nothing is due."""
    accs = list(range(first, first + count))
    sentinel = first + count
    for acc in [*accs, sentinel]:
        r.publish(keys.realtime_channel(SYMBOL), tick(acc))
    for ws in clients:
        got: list[int] = []
        while not got or got[-1] != sentinel:
            message = recv_json(ws, 30)
            if message.get("type") == "tick":
                got.append(message["accVolume"])
        assert got == [*accs, sentinel], f"a client got {got}"


def test_two_workers_deliver_every_tick_once_and_the_survivor_takes_over(
    cloud: LocalCloud, r: redis.Redis, workers: Workers
) -> None:
    first = workers.start()
    wait_for(lambda: settled(r, 1, 0), 60, "the first fan-out worker ready")
    opened = [open_client(cloud, user_id=500 + i) for i in range(6)]
    for ws, _ in opened:
        subscribe(ws, [SYMBOL])
    wait_for(lambda: settled(r, 1, 6), 30, "the first worker holding the 6 clients")

    second = workers.start()  # a worker joins: both rebuild their share from the registry
    split = wait_for(lambda: settled(r, 2, 6), 60, "two workers sharing the 6 clients")
    more = [open_client(cloud, user_id=600 + i) for i in range(6)]
    for ws, _ in more:
        subscribe(ws, [SYMBOL])  # announced on ws:control: only the owner takes each
    split = wait_for(lambda: settled(r, 2, 12), 30, "two workers sharing all 12 clients")
    assert all(s["fanout"]["connections"] > 0 for s in split.values()), split
    clients = [ws for ws, _ in [*opened, *more]]
    try:
        deliver_round(r, clients, 1_000, 5)

        second.send_signal(signal.SIGKILL)  # no goodbye: its heartbeat lapses
        second.wait(timeout=10)
        survivor = wait_for(lambda: settled(r, 1, 12), 60, "the survivor owning all 12 clients")
        assert first.poll() is None and next(iter(survivor.values()))["fanout"]["rebalances"] >= 2
        deliver_round(r, clients, 2_000, 5)
    finally:
        for ws in clients:
            ws.close()


def test_membership_ranks_live_workers_by_id_and_prunes_a_silent_one(services: dict[str, str]) -> None:
    """Membership alone, on real Redis: each worker's share is its rank by id among the live ones; one
    that stops beating is pruned by the next beat of another once its lease (3 heartbeats) is over."""
    import asyncio

    import redis.asyncio as aioredis
    from support.waiting import wait_for_async

    from kstock_streamer.fanout.membership import Membership
    from kstock_streamer.fanout.partition import Partition

    async def scenario() -> None:
        client = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
        await client.delete(keys.FANOUT_WORKERS)
        try:
            b, a = Membership(client, "worker-b", heartbeat=0.2), Membership(client, "worker-a", heartbeat=0.2)
            assert await b.join() == Partition(0, 1)
            assert await a.join() == Partition(0, 2)  # "worker-a" sorts first
            assert await b.beat() == Partition(1, 2)

            async def b_alone() -> bool:
                return await b.beat() == Partition(0, 1)

            await wait_for_async(b_alone, 5, "worker-a pruned after its lease")  # a never beats again
            assert await client.zrange(keys.FANOUT_WORKERS, 0, -1) == ["worker-b"]
            await b.leave()
            assert await client.exists(keys.FANOUT_WORKERS) == 0
        finally:
            await client.delete(keys.FANOUT_WORKERS)
            await client.aclose()

    asyncio.run(scenario())
