"""Live signals through real Redis (issue 15): the IndicatorWorker publishes what the batch rules give, and
the fan-out delivers them to the ``signals`` topic only."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis
from support.signals import oracle, ticks
from support.waiting import Deadline, wait_for_async

from kstock import keys
from kstock.realtime.session import TOPICS
from kstock_streamer.fanout import OK, Fanout, FanoutOptions
from kstock_streamer.signals import IndicatorWorker


def test_signals_go_through_redis_to_the_signals_topic_only(services):
    feed = ticks(7, minutes=900)
    expected = oracle(feed)

    async def scenario():
        client = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
        listener = client.pubsub()
        await listener.subscribe(keys.SIGNAL_UPDATES)
        worker = IndicatorWorker(client, lambda: ["005930"])
        task = asyncio.create_task(worker.run())
        try:
            probe = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)

            # the worker's subscription is in place once a publish reaches one subscriber besides ours
            async def worker_subscribed() -> bool:
                return await probe.publish(keys.realtime_channel("000000"), "{}") >= 1

            await wait_for_async(worker_subscribed, 10, "the worker's subscription")
            for tick in feed:
                await probe.publish(keys.realtime_channel("005930"), json.dumps(tick))
            received = []
            # read until enough arrived or the deadline passed: the assertion below shows any difference
            deadline = Deadline(15, "the signals")
            while len(received) < len(expected) and not deadline.expired():
                message = await listener.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message:
                    received.append(json.loads(message["data"]))
            await probe.aclose()
            return received
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await listener.aclose()
            await client.aclose()

    received = asyncio.run(scenario())
    assert sorted(((s["rule"], s["price"], s["time"]) for s in received), key=lambda s: (s[2], s[0])) == expected

    bodies: list[tuple[str, bytes]] = []

    async def record(conn, body):  # the @connections calls, answered here instead of the network
        bodies.append((conn.id, body))
        return OK

    async def deliver():
        fanout = Fanout(None, FanoutOptions(), post=record)
        for cid, topics in (("signals-client", ["signals"]), ("themes-client", ["themes"])):
            fanout.on_control(
                json.dumps(
                    {
                        "event": "subscribe",
                        "connectionId": cid,
                        "domainName": "127.0.0.1:1",
                        "stage": "Prod",
                        "mode": "tick",
                        "symbols": [],
                        "topics": topics,
                    }
                )
            )
        fanout.dispatch(["message", keys.SIGNAL_UPDATES, json.dumps(received[0])])
        await wait_for_async(lambda: bodies, 5, "the signal's delivery", interval=0.01)
        return fanout

    fanout = asyncio.run(deliver())
    assert "signals" in TOPICS
    assert [(cid, json.loads(body)) for cid, body in bodies] == [("signals-client", received[0])]
    assert fanout.stats.signals == 1
