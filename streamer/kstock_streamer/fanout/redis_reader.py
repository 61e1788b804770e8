"""The fan-out's pub/sub connection, read with hiredis directly. FENCED: the one module of kstock
allowed to touch redis-py's internals (``Connection._reader``); tests/test_fanout_redis_fence.py
guards it, and ``redis`` is pinned to the minor range that test has passed on.

Why: redis-py's public ``PubSub.get_message`` costs ~8 µs of CPU per message (measured with redis
6.4 / hiredis 3.5: 30,000 ticks published, then consumed); feeding the socket's bytes to a
``hiredis.Reader`` ourselves costs ~0.6 µs. The fan-out reads every tick of the market, thousands
a second, on the same core that posts them. redis-py still opens the connection, so AUTH, SELECT,
TLS and the client name are done as configured in ``REDIS_URL``; only the reading is ours.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hiredis
import redis
import redis.asyncio as aioredis

FENCE = "kstock_streamer/fanout/redis_reader.py"


class RedisInternalsChanged(RuntimeError):
    """redis-py no longer looks the way this module expects."""


def _version() -> str:
    return ".".join(redis.__version__.split(".")[:2])


def stream_of(connection: Any) -> asyncio.StreamReader:
    """The ``asyncio.StreamReader`` of a connected redis-py ``Connection`` (a private attribute)."""
    stream = getattr(connection, "_reader", None)
    if not isinstance(stream, asyncio.StreamReader):
        raise RedisInternalsChanged(
            f"redis-py {_version()} changed Connection._reader (expected an asyncio.StreamReader once "
            f"connected, found {type(stream).__name__}); re-check {FENCE}"
        )
    return stream


class PubSubReader:
    """``async with PubSubReader(redis) as pubsub``: send (P)SUBSCRIBE, then read the pushes in batches."""

    def __init__(self, client: aioredis.Redis) -> None:
        # public, but unannotated in redis-py
        self._connection = client.connection_pool.make_connection()  # type: ignore[no-untyped-call, unused-ignore]
        self._parser = hiredis.Reader(encoding="utf-8", errors="replace")
        self._stream: asyncio.StreamReader | None = None

    async def __aenter__(self) -> PubSubReader:
        await self._connection.connect()
        try:
            self._stream = stream_of(self._connection)
        except BaseException:
            await self._connection.disconnect()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stream = None
        await self._connection.disconnect()

    async def send(self, *args: str) -> None:
        # no health check: its PING's answer would be read by redis-py's parser, not ours
        await self._connection.send_command(*args, check_health=False)

    async def replies(self) -> list[list[Any]]:
        """The next replies: at least one; ``[kind, ...]`` each (``pmessage``, ``message``, ``subscribe``, ...)."""
        if self._stream is None:
            raise RuntimeError("PubSubReader used outside 'async with'")
        replies: list[list[Any]] = []
        while not replies:
            data = await self._stream.read(1 << 16)
            if not data:
                raise ConnectionError("Redis closed the pub/sub connection")
            self._parser.feed(data)
            while (reply := self._parser.gets()) is not False:
                if isinstance(reply, Exception):
                    raise reply
                replies.append(reply)
        return replies
