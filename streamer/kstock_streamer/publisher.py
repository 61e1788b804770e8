"""Ticks into Redis: one script call (one round trip, one reply) per batch of KIS frames.

Every tick is published as the contract's tick JSON on ``stock:realtime:{symbol}``; the newest
tick of each symbol becomes ``price:{symbol}`` (with a TTL); the trades are appended as one entry
to the tick stream the writer persists (polled prices are not trades and are not persisted).
If Redis is away, stream entries wait in a bounded buffer and are appended, in order, once it is
back; the process never dies of it.

Order books (issue 18) are published on ``stock:orderbook:{symbol}`` and kept as ``orderbook:{symbol}``
(the same TTL): only the newest of a symbol matters, so nothing of them waits for Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from itertools import islice

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kstock import keys
from kstock.kis.models import OrderBook, Tick
from kstock.marketdata.orderbook import Source, book_json

log = logging.getLogger("kstock_streamer.publisher")

FLUSH_PER_CALL = 500  # after an outage, catch up on the backlog a bounded slice per call

# Per-argument client overhead, not Redis, limits thousands of PUBLISHes a second, so the ticks
# travel as two newline-joined strings and the script fans them out. ARGV: channel prefix,
# price-key prefix, ttl, maxlen, symbols, messages, then older stream payloads waiting to be
# appended (oldest first); the new ticks become one more entry.
_PUBLISH = """
local channel, price, ttl, maxlen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
for i = 7, #ARGV do redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 't', ARGV[i]) end
if ARGV[6] == '' then return 0 end
local symbols, messages, latest = {}, {}, {}
for symbol in string.gmatch(ARGV[5], '[^\\n]+') do symbols[#symbols + 1] = symbol end
for message in string.gmatch(ARGV[6], '[^\\n]+') do messages[#messages + 1] = message end
for i = 1, #messages do
  redis.call('PUBLISH', channel .. symbols[i], messages[i])
  latest[symbols[i]] = messages[i]
end
for symbol, message in pairs(latest) do redis.call('SET', price .. symbol, message, 'EX', ttl) end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 't', '[' .. table.concat(messages, ',') .. ']')
return #messages
"""


@dataclass
class PublisherStats:
    ticks: int = 0
    books: int = 0
    calls: int = 0
    polled: int = 0
    redis_errors: int = 0
    buffered: int = 0
    dropped: int = 0
    last_publish_at: float | None = None


class TickPublisher:
    def __init__(
        self, redis: aioredis.Redis, *, price_ttl: int = 10, stream_maxlen: int = 1_000_000, buffer_limit: int = 100_000
    ) -> None:
        self.redis = redis
        self.price_ttl = price_ttl
        self.stream_maxlen = stream_maxlen
        self._pending: deque[str] = deque()  # stream payloads not yet appended (Redis was away)
        self._buffer_limit = buffer_limit
        self._backlog_lock = asyncio.Lock()  # publishing and the periodic flush must not append one entry twice
        self._script = redis.register_script(_PUBLISH)
        self.stats = PublisherStats()

    async def publish_ticks(self, ticks: list[Tick]) -> None:
        """Publish trades (one or more frames, source ``ws``) and append them to the tick stream."""
        if not ticks:
            return
        messages = "\n".join(tick.to_json("ws") for tick in ticks)
        symbols = "\n".join(tick.symbol for tick in ticks)
        async with self._backlog_lock:
            backlog = list(islice(self._pending, FLUSH_PER_CALL))
            if await self._call([symbols, messages, *backlog]):
                self._done(len(backlog))
                self.stats.ticks += len(ticks)
                self.stats.calls += 1
                return
            # Redis is away: keep the trades for the stream (the live channel has nobody to tell now)
            self._pending.append("[" + messages.replace("\n", ",") + "]")
            if len(self._pending) > self._buffer_limit:
                self._pending.popleft()
                self.stats.dropped += 1
            self.stats.buffered = len(self._pending)

    async def flush_backlog(self) -> None:
        """Append waiting stream entries (called periodically: the market may be quiet after an outage)."""
        async with self._backlog_lock:
            if self._pending:
                backlog = list(islice(self._pending, FLUSH_PER_CALL))
                if await self._call(["", "", *backlog]):
                    self._done(len(backlog))

    async def publish_message(self, message: dict[str, object]) -> bool:
        """Publish a non-trade price (a REST poll or snapshot): channel and latest price only."""
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        symbol = str(message["symbol"])
        pipe = self.redis.pipeline(transaction=False)
        pipe.publish(keys.realtime_channel(symbol), text)
        pipe.set(keys.latest_price(symbol), text, ex=self.price_ttl)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return False
        self.stats.polled += 1
        self.stats.last_publish_at = time.time()
        return True

    async def publish_books(self, books: list[OrderBook], source: Source = "ws") -> bool:
        """Publish order books (``ws``: streamed; ``poll``: a REST snapshot of a book without a KIS slot) and
        keep the newest of each symbol, in one round trip."""
        if not books:
            return True
        latest: dict[str, str] = {}
        pipe = self.redis.pipeline(transaction=False)
        for book in books:
            text = latest[book.symbol] = book_json(book, source)
            pipe.publish(keys.orderbook_channel(book.symbol), text)
        for symbol, text in latest.items():
            pipe.set(keys.latest_orderbook(symbol), text, ex=self.price_ttl)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:  # an older book is worthless later: nothing is kept back
            self._failed(exc)
            return False
        self.stats.books += len(books)
        self.stats.last_publish_at = time.time()
        return True

    async def _call(self, args: list[str]) -> bool:
        try:
            await self._script(
                keys=[keys.TICK_STREAM],
                args=[keys.realtime_channel(""), keys.latest_price(""), self.price_ttl, self.stream_maxlen, *args],
            )
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return False
        self.stats.last_publish_at = time.time()
        return True

    def _failed(self, exc: BaseException) -> None:
        self.stats.redis_errors += 1
        if self.stats.redis_errors == 1 or self.stats.redis_errors % 1000 == 0:
            log.warning("Redis unavailable (%s); %d stream entries waiting", type(exc).__name__, len(self._pending))

    def _done(self, flushed: int) -> None:
        for _ in range(flushed):
            self._pending.popleft()
        self.stats.buffered = len(self._pending)
