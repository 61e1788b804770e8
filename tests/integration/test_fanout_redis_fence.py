"""Guard of the one fenced use of redis-py internals: kstock_streamer/fanout/redis_reader.py.

The fan-out reads its pub/sub connection's socket with hiredis itself (``Connection._reader``, a
private attribute of redis-py). ``redis`` is pinned to the minor range these tests have passed on;
when a new redis-py is tried, these tests say exactly what changed before a tick goes missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from support.serverdirs import server_dir
from support.waiting import patient

from kstock import keys
from kstock_local.embedded import EmbeddedRedis
from kstock_streamer.fanout import redis_reader
from kstock_streamer.fanout.redis_reader import PubSubReader, RedisInternalsChanged

FENCE = "kstock_streamer/fanout/redis_reader.py"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with server_dir("fanout-fence") as home:
        server = EmbeddedRedis(home / "redis", persist=False)
        url = server.start()
        try:
            yield url
        finally:
            server.stop()


def _minor() -> str:
    return ".".join(redis.__version__.split(".")[:2])


def test_a_connected_redis_py_connection_still_exposes_its_stream_reader(redis_url: str) -> None:
    async def probe() -> Any:
        client = aioredis.Redis.from_url(redis_url)
        connection = client.connection_pool.make_connection()
        await connection.connect()
        try:
            return getattr(connection, "_reader", None)
        finally:
            await connection.disconnect()
            await client.aclose()

    found = asyncio.run(probe())
    assert isinstance(found, asyncio.StreamReader), (
        f"redis-py {_minor()} changed Connection._reader (an asyncio.StreamReader once connected; now "
        f"{type(found).__name__}); re-check {FENCE}"
    )


def test_the_reader_subscribes_and_reads_pushes_in_the_shapes_the_fanout_dispatches(redis_url: str) -> None:
    symbol = "005930"

    async def scenario() -> list[list[Any]]:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            async with PubSubReader(client) as pubsub:
                await pubsub.send("PSUBSCRIBE", keys.REALTIME_CHANNEL_PATTERN)
                await pubsub.send("SUBSCRIBE", keys.CONTROL_CHANNEL)
                await client.publish(keys.realtime_channel(symbol), '{"type":"tick","price":1}')
                await client.publish(keys.CONTROL_CHANNEL, '{"event":"subscribe"}')
                replies: list[list[Any]] = []
                while len(replies) < 4:
                    replies += await asyncio.wait_for(pubsub.replies(), patient(5))
                return replies
        finally:
            await client.aclose()

    replies = asyncio.run(scenario())
    assert [reply[0] for reply in replies] == ["psubscribe", "subscribe", "pmessage", "message"], (
        f"redis-py {_minor()}: the pub/sub pushes read through {FENCE} are not what the fan-out dispatches: {replies}"
    )
    assert replies[2] == [
        "pmessage",
        keys.REALTIME_CHANNEL_PATTERN,
        keys.realtime_channel(symbol),
        '{"type":"tick","price":1}',
    ]
    assert replies[3] == ["message", keys.CONTROL_CHANNEL, '{"event":"subscribe"}']


def test_a_closed_connection_is_an_error_the_streamer_restarts_from(redis_url: str) -> None:
    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            async with PubSubReader(client) as pubsub:
                await pubsub.send("SUBSCRIBE", keys.CONTROL_CHANNEL)
                await asyncio.wait_for(pubsub.replies(), patient(5))
                await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
                with pytest.raises(ConnectionError, match="closed the pub/sub connection"):
                    await asyncio.wait_for(pubsub.replies(), patient(5))
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_the_guard_says_which_redis_py_changed_what_and_where_to_look() -> None:
    class Changed:  # what a redis-py that renamed or dropped the attribute would hand over
        _stream = None

    with pytest.raises(RedisInternalsChanged) as raised:
        redis_reader.stream_of(Changed())
    message = str(raised.value)
    assert message.startswith(f"redis-py {_minor()} changed Connection._reader") and message.endswith(
        f"re-check {FENCE}"
    )
