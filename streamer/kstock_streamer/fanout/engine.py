"""The fan-out itself: reads the pub/sub pushes and hands each to the index, the scheduler and delivery."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kstock import keys
from kstock.aws import connections_endpoint
from kstock.realtime import session
from kstock_streamer.fanout import control
from kstock_streamer.fanout.books import BookFanout
from kstock_streamer.fanout.connection import TICK, Connection
from kstock_streamer.fanout.delivery import Delivery, PostCall
from kstock_streamer.fanout.index import ConnectionIndex, Subscribers
from kstock_streamer.fanout.membership import Membership
from kstock_streamer.fanout.newest import NewestTicks
from kstock_streamer.fanout.options import FanoutOptions, FanoutStats
from kstock_streamer.fanout.partition import Partition
from kstock_streamer.fanout.rebuild import load_index, refill, registered_symbols
from kstock_streamer.fanout.redis_reader import PubSubReader
from kstock_streamer.fanout.scheduler import Scheduler
from kstock_streamer.fanout.signing import SigV4Signer

log = logging.getLogger("kstock_streamer.fanout")

CHANNELS = (keys.CONTROL_CHANNEL, keys.THEME_UPDATES, keys.SIGNAL_UPDATES, keys.STREAM_STATUS)


def _compact(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class Fanout:
    def __init__(
        self,
        redis: aioredis.Redis | None,
        options: FanoutOptions | None = None,
        *,
        signer: SigV4Signer | None = None,
        forget: Callable[[str], Any] | None = None,
        post: PostCall | None = None,
    ) -> None:
        """``forget(connection_id)``: remove a gone connection from the registry and the demand
        counts (default: what ``$disconnect`` does). ``post``: makes the ``@connections`` calls
        (default: signed HTTP; a test may answer them itself)."""
        self.redis = redis
        self.options = options or FanoutOptions.from_settings()
        self.stats = FanoutStats()
        self.newest = NewestTicks()
        self.index = ConnectionIndex(seen=self.newest.number)
        self.delivery = Delivery(
            self.options, self.stats, self.newest, gone=self._gone, post=post or self._post, signer=signer
        )
        self.scheduler = Scheduler(self.index, self.newest, self.delivery.drain)
        self.books = BookFanout(self.options.books_per_second, self._queue_book)  # issue 18: paced order books
        self.ready = asyncio.Event()
        self.stream_status: bytes | None = None  # the feed's "stalled" message while it lasts (new clients get it)
        self._forget_remote = forget or session.close_connection
        self._prefix = keys.realtime_channel("")
        self._book_prefix = keys.orderbook_channel("")
        self._handlers: dict[str, Callable[[str], None]] = {
            keys.CONTROL_CHANNEL: self.on_control,
            keys.THEME_UPDATES: self.on_theme,
            keys.SIGNAL_UPDATES: self.on_signal,
            keys.STREAM_STATUS: self.on_stream_status,
        }
        # issue 18: one of K workers owns the connections whose id hashes to its share (partition.py)
        self.partition = self._wanted = Partition.whole()
        self.membership: Membership | None = None
        if redis is not None and self.options.worker_id is not None:
            self.membership = Membership(redis, self.options.worker_id, self.options.heartbeat)
            self._handlers[keys.FANOUT_MEMBERS_CHANNEL] = self.on_members
        self._members_changed = asyncio.Event()

    # -- what the tests and the status page read -----------------------------------------------------

    @property
    def connections(self) -> Mapping[str, Connection]:
        return self.index.connections

    @property
    def by_symbol(self) -> Mapping[str, Subscribers]:
        return self.index.by_symbol

    @property
    def by_topic(self) -> Mapping[str, Subscribers]:
        return self.index.by_topic

    def subscribers(self, symbol: str) -> list[str]:
        return self.index.subscribers(symbol)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe, rebuild the index, then deliver until cancelled (restarted by the streamer)."""
        if self.redis is None:
            raise RuntimeError("a Fanout without Redis cannot run")
        self.ready.clear()
        keeper: asyncio.Task[None] | None = None
        channels = (*CHANNELS, *((keys.FANOUT_MEMBERS_CHANNEL,) if self.membership is not None else ()))
        try:
            async with PubSubReader(self.redis) as pubsub:
                # subscribe before reading the registry: what is announced meanwhile waits in the socket
                await pubsub.send("PSUBSCRIBE", keys.REALTIME_CHANNEL_PATTERN, keys.ORDERBOOK_CHANNEL_PATTERN)
                await pubsub.send("SUBSCRIBE", *channels)
                confirmed = 0
                while confirmed < 2 + len(channels):
                    for reply in await pubsub.replies():
                        confirmed += reply[0] in ("subscribe", "psubscribe")
                        self.dispatch(reply)
                if self.membership is not None:
                    self.partition = self._wanted = await self.membership.join()
                    keeper = asyncio.create_task(self._keep_membership(self.membership), name="fanout-membership")
                    log.info("fan-out worker %s joined: owns %s", self.membership.worker_id, self.partition)
                await self._rebuild()
                self.ready.set()
                while True:
                    for reply in await pubsub.replies():
                        self.dispatch(reply)
                    if self._wanted != self.partition:  # reading waits meanwhile: nothing announced is missed
                        await self._repartition()
        finally:
            self.ready.clear()
            if keeper is not None:
                keeper.cancel()
                await self._leave()

    async def close(self) -> None:
        await self.scheduler.close()
        await self.delivery.close()

    async def _rebuild(self) -> None:
        """From the connection registry alone: after Redis came back empty the demand counts are gone
        (or not rebuilt yet), the registry still lists every subscription (issue 17, finding 1)."""
        owns = None if self.partition.count == 1 else self.partition.owns
        snapshot = await asyncio.to_thread(lambda: load_index(registered_symbols(), owns=owns))
        for conn in refill(self.index, snapshot, self.options.window, self.books):
            self._drop(conn)  # gone while we were away
        self.stats.rebuilds += 1
        log.info("fan-out index rebuilt: %d connections on %d symbols", len(self.index), self.index.symbol_count())

    # -- K workers (issue 18) ------------------------------------------------------------------------

    async def _keep_membership(self, membership: Membership) -> None:
        """Heartbeat every ``heartbeat`` seconds, and at once when a peer joins or leaves; a new share
        is handed to the reading loop (``_wanted``), which rebuilds the index between two reads."""
        while True:
            try:
                await asyncio.wait_for(self._members_changed.wait(), membership.heartbeat)
            except TimeoutError:
                pass
            self._members_changed.clear()
            try:
                wanted = await membership.beat()
                if wanted != self._wanted:
                    self._wanted = wanted
                    await membership.announce()  # the peers re-read, and our own reading loop wakes
            except (RedisError, OSError) as exc:  # the reading loop fails too and restarts the fan-out
                log.warning("fan-out membership heartbeat failed: %s", type(exc).__name__)
            except Exception:  # never silently stop beating: the others would take our connections twice
                log.exception("fan-out membership heartbeat failed")

    async def _repartition(self) -> None:
        before, self.partition = self.partition, self._wanted
        await self._rebuild()
        self.stats.rebalances += 1
        log.info("fan-out workers changed: owned %s, now %s (%d connections)", before, self.partition, len(self.index))

    async def _leave(self) -> None:
        if self.membership is None:
            return
        try:
            await asyncio.wait_for(self.membership.leave(), 2)
        except (RedisError, OSError, TimeoutError):  # our lease lapses on its own
            pass

    def on_members(self, _text: str) -> None:
        """A worker joined or left (``fanout:members``): re-read the membership now."""
        self._members_changed.set()

    # -- incoming ----------------------------------------------------------------------------------

    def dispatch(self, reply: list[Any]) -> None:
        """One pub/sub push: ``[pmessage, pattern, channel, data]`` or ``[message, channel, data]``."""
        kind = reply[0]
        if kind == "pmessage":
            if reply[1] == keys.ORDERBOOK_CHANNEL_PATTERN:
                self.books.on_book(reply[2][len(self._book_prefix) :], reply[3])
                return
            self.on_tick(reply[2][len(self._prefix) :], reply[3])
        elif kind == "message" and (handler := self._handlers.get(reply[1])) is not None:
            handler(reply[2])

    def on_tick(self, symbol: str, text: str) -> None:
        """A tick (the contract's JSON) published on ``stock:realtime:{symbol}``. The hot path: thousands
        a second, so the tick-mode loop is inline and the index is asked once."""
        route = self.index.route(symbol)
        if route is None:
            return
        ticking, batching = route
        self.newest.record(symbol, text)
        stats = self.stats
        if ticking:
            payload, limit, schedule = text.encode(), self.options.queue_limit, self.scheduler.schedule
            for conn in ticking.values():
                queue = conn.queue
                queue.append(payload)
                if len(queue) > limit:  # a throttled or slow client: the oldest go, the newest stay
                    queue.popleft()
                    stats.dropped += 1
                if not conn.busy and conn.timer is None:
                    schedule(conn)
            stats.wanted["tick"] += len(ticking)
        if batching:
            stats.wanted["batch"] += len(batching)
            for conn in self.index.take_sleepers(symbol).values():
                self.scheduler.wake(conn)

    def on_control(self, text: str) -> None:
        """An announcement of the WebSocket handlers on ``ws:control``."""
        announcement = control.parse(text)
        if announcement is None:
            return  # e.g. a bare wake-up for the planner
        self.stats.announcements += 1
        if announcement.event == control.SUBSCRIBE:
            self._subscribe(announcement)
            return
        conn = self.index.get(announcement.connection_id)
        if conn is None:
            return
        if announcement.event == control.UNSUBSCRIBE:
            self.index.unsubscribe(conn, announcement.symbols)
            self.index.unsubscribe_topics(conn, announcement.topics)
            self.books.unsubscribe(conn, announcement.books)
        elif announcement.event == control.DISCONNECT:
            self._drop(conn)

    def _subscribe(self, announcement: control.Announcement) -> None:
        window = self.options.window(announcement.window_ms)
        conn = self.index.get(announcement.connection_id)
        joined = False
        if conn is None:
            if announcement.domain_name is None or announcement.stage is None:
                return
            if not self.partition.owns(announcement.connection_id):
                return  # another fan-out worker's
            endpoint = connections_endpoint(announcement.domain_name, announcement.stage)
            conn = Connection(announcement.connection_id, endpoint, announcement.mode or TICK, window)
            self.index.add(conn)
            joined = True
        elif announcement.mode is not None:
            self.index.set_mode(conn, announcement.mode, window)
        self.index.subscribe(conn, announcement.symbols)
        self.index.subscribe_topics(conn, announcement.topics)
        self.books.subscribe(conn, announcement.books)
        if joined and self.stream_status is not None:  # it joins a stalled feed: say so
            self._queue({conn.id: conn}, self.stream_status)

    def on_theme(self, text: str) -> None:
        """A theme update (``themes:updates``) to the ``themes`` topic, as ``{"type":"theme_update",...}``."""
        subs = self.index.topic("themes")
        if not subs:
            return
        try:
            update = json.loads(text)
        except (TypeError, ValueError):
            log.warning("theme update is not JSON; not delivered")
            return
        if isinstance(update, dict):
            body: dict[str, Any] = {"type": "theme_update", **{k: v for k, v in update.items() if k != "type"}}
        else:
            body = {"type": "theme_update", "data": update}
        self.stats.theme_updates += self._queue(subs, _compact(body))

    def on_signal(self, text: str) -> None:
        """A live buy signal (issue 15), already ``{"type":"signal",...}``, to the ``signals`` topic."""
        subs = self.index.topic("signals")
        if not subs:
            return
        try:
            body = json.loads(text)
        except (TypeError, ValueError):
            log.warning("signal is not JSON; not delivered")
            return
        if isinstance(body, dict):
            self.stats.signals += self._queue(subs, _compact({**body, "type": "signal"}))

    def on_stream_status(self, text: str) -> None:
        """The KIS feed stalled or resumed (``stream:status``): every connection is told, whatever it
        subscribes to, as ``{"type":"status","stream":"stalled"|"resumed",...}``."""
        try:
            body = json.loads(text)
        except (TypeError, ValueError):
            log.warning("stream status is not JSON; not delivered")
            return
        if not isinstance(body, dict) or body.get("stream") not in ("stalled", "resumed"):
            return
        payload = _compact({**body, "type": "status"})
        self.stream_status = payload if body["stream"] == "stalled" else None
        self.stats.status_messages += self._queue(self.index.connections, payload)

    def _queue_book(self, conn: Connection, payload: bytes) -> None:
        """A paced order book for ``conn`` (:class:`BookFanout` decided it is its turn)."""
        if not conn.gone:
            self.stats.books += self._queue({conn.id: conn}, payload)

    def _queue(self, subs: Subscribers, payload: bytes) -> int:
        """``payload`` to each of ``subs``; how many."""
        for conn in subs.values():
            conn.queue.append(payload)
            if conn.idle:
                self.scheduler.schedule(conn)
        return len(subs)

    # -- leaving -----------------------------------------------------------------------------------

    def _drop(self, conn: Connection) -> None:
        """Out of the index, nothing more sent."""
        conn.gone = True
        self.index.remove(conn)
        self.books.remove(conn)
        conn.queue.clear()
        self.scheduler.cancel_timer(conn)

    def _gone(self, conn: Connection) -> None:
        """API Gateway answered 410: the client left without ``$disconnect`` reaching us."""
        if conn.gone:
            return
        self.stats.gone += 1
        self._drop(conn)
        self.scheduler.spawn(self._forget(conn.id))

    async def _forget(self, connection_id: str) -> None:
        """Registry and demand, like a ``$disconnect`` would (the registry makes sure it counts once)."""
        try:
            await asyncio.to_thread(self._forget_remote, connection_id)
        except Exception:  # the TTL removes the rows eventually; the index already forgot it
            log.exception("could not remove gone connection %s from the registry", connection_id)

    async def _post(self, conn: Connection, body: bytes) -> str:
        """The default ``post``: a signed call over the network."""
        return await self.delivery.call(conn, body)

    # -- status ------------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        s, index = self.stats, self.index
        connections = index.connections.values()
        return {
            "ready": self.ready.is_set(),
            "connections": len(index),
            "connectionsByMode": index.modes(),
            "subscriptions": index.subscription_count(),
            "symbols": index.symbol_count(),
            "topicSubscribers": index.topic_counts(),
            "calls": dict(s.calls),
            "messages": dict(s.messages),
            "oneByOne": dict(s.wanted),
            "themeUpdates": s.theme_updates,
            "signals": s.signals,
            "books": {
                "symbols": self.books.symbol_count(),
                "subscriptions": self.books.subscription_count(),
                "sent": s.books,
                "skipped": self.books.skipped,
                "held": self.books.held(),
            },
            "statusMessages": s.status_messages,
            "streamStalled": self.stream_status is not None,
            "gone": s.gone,
            "throttled": s.throttled,
            "failed": s.failed,
            "dropped": s.dropped,
            "announcements": s.announcements,
            "rebuilds": s.rebuilds,
            "worker": self.membership.worker_id if self.membership is not None else None,
            "partition": {"index": self.partition.index, "count": self.partition.count},
            "workers": list(self.membership.members) if self.membership is not None else None,
            "rebalances": s.rebalances,
            "inFlight": self.delivery.in_flight,
            "queued": sum(len(c.queue) for c in connections),
            "awaitingBatch": sum(1 for c in connections if c.mode == "batch" and self.newest.has_news(c)),
            "lastBroadcastAt": s.last_broadcast_at,
        }
