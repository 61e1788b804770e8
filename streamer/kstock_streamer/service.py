"""The streamer: the one long-lived process of kstock.

Tasks on one event loop:
* ingest — the KIS WebSocket session's frames -> :class:`TickPublisher` (Redis);
* books — its order books (H0STASP0, issue 18) -> ``stock:orderbook:{symbol}`` and ``orderbook:{symbol}``;
* demand — every second (and at once on a ``ws:control`` announcement) re-plan which symbols hold
  KIS slots (:class:`SubscriptionPlanner`) and apply it, paced;
* poller — round-robin REST quotes for demanded symbols without a slot, within a rate budget;
  after a WebSocket reconnect, one REST snapshot of every streamed symbol;
* writer — the tick stream -> Postgres (:class:`TickWriter`);
* fanout — ticks and theme updates -> WebSocket clients through ``@connections``
  (:class:`kstock_streamer.fanout.Fanout`);
* reconciler — with the fan-out (the registry): every ``DEMAND_RECONCILE_SECONDS`` compare demand
  with the connection registry and repair drift (:class:`DemandKeeper`);
* lease — with several KIS app keys (issue 18 part 5), renew this key's slot lease
  (:mod:`kstock_streamer.slots`); the demand task then registers only the names this key's session owns;
* status — flush the publisher's backlog, publish health to ``streamer:status``, and tell the
  clients when the KIS feed stalls or resumes (:class:`FeedWatch`, ``stream:status``).
None of them lets an exception end the process: each is restarted after logging it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kstock import keys, provenance
from kstock.config import Settings, get_settings
from kstock.kis.connection import KisWebSocket
from kstock.kis.endpoints import TR_ORDER_BOOK
from kstock.kis.errors import KisError, KisMaxSubscriptions
from kstock.kis.rest import KisRestClient
from kstock.market.codes import InstrumentKind, classify, is_valid
from kstock.realtime.channels import book_symbol
from kstock.realtime.prices import STREAM_TR, fetch_quote
from kstock_streamer.demandkeeper import DemandKeeper
from kstock_streamer.fanout import Fanout, FanoutOptions
from kstock_streamer.feedwatch import FeedWatch
from kstock_streamer.planner import SubscriptionPlanner, fair_share
from kstock_streamer.publisher import TickPublisher
from kstock_streamer.signals import IndicatorWorker
from kstock_streamer.slots import SharedSlots, SlotLeases, assign, polled_share
from kstock_streamer.supervision import TaskHealth, supervise
from kstock_streamer.writer import TickWriter

log = logging.getLogger("streamer")
SNAPSHOT_ATTEMPTS = 5  # per symbol and KIS connect


@dataclass
class StreamerOptions:
    default_symbols: list[str]
    slots: int = 41
    stable_seconds: float = 30.0
    plan_interval: float = 1.0
    poll_rate: float = 5.0
    price_ttl: int = 10
    stream_maxlen: int = 1_000_000
    writer_batch: int = 5000
    run_writer: bool = True
    # the WebSocket fan-out needs the connection registry (DynamoDB): off unless asked for
    fanout: bool = False
    fanout_options: FanoutOptions = field(default_factory=FanoutOptions)
    reconcile_seconds: float = 60.0  # demand vs the registry (with the fan-out, or `reconcile`: it needs the registry)
    # issue 18: the registry is there even when separate fan-out workers run (STREAMER_FANOUT=off):
    # the demand reconciler runs once, here, whenever it is configured
    reconcile: bool = False
    # no KIS frame and no PINGPONG this long: the feed is stalled; None (a hand-built streamer, e.g. a test
    # on a quiet simulator that sends no PINGPONG) does not watch; from_settings: KIS_STALL_SECONDS
    stall_seconds: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> StreamerOptions:
        s = settings or get_settings()
        in_aws = any(os.environ.get(v) for v in ("ECS_CONTAINER_METADATA_URI_V4", "AWS_EXECUTION_ENV"))
        fanout = s.streamer_fanout == "on" or (s.streamer_fanout == "auto" and (bool(s.aws_endpoint_url) or in_aws))
        return cls(
            default_symbols=[x.strip() for x in s.streamer_default_symbols.split(",") if x.strip()],
            slots=s.kis_ws_max_subscriptions,
            stable_seconds=s.streamer_stable_seconds,
            plan_interval=s.streamer_plan_interval,
            poll_rate=s.streamer_poll_rate,
            price_ttl=s.streamer_price_ttl,
            stream_maxlen=s.streamer_stream_maxlen,
            writer_batch=s.tick_writer_batch,
            fanout=fanout,
            fanout_options=FanoutOptions.from_settings(s),
            reconcile_seconds=s.demand_reconcile_seconds,
            reconcile=bool(s.aws_endpoint_url) or in_aws or "CONNECTIONS_TABLE" in os.environ,
            stall_seconds=s.kis_stall_seconds,
        )


def _watchlist_reason(raw: str | None) -> dict[str, Any]:
    """Why the watchlist job listed a symbol (issue 15): {rank, tradedValue, reasons}; {} when unknown."""
    try:
        why = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return why if isinstance(why, dict) else {}


def _watchlist_order(item: tuple[str, dict[str, Any]]) -> tuple[int, str]:
    rank = item[1].get("rank")
    return (rank if isinstance(rank, int) else 1_000, item[0])


def _registration(name: str) -> tuple[str, str]:
    """The KIS (tr_id, tr_key) of a planned name: a symbol's trades, or ``BOOK#{symbol}``'s order book."""
    symbol = book_symbol(name)
    if symbol is not None:
        return TR_ORDER_BOOK, symbol
    return STREAM_TR[classify(name).kind], name


def _streamable(name: str) -> bool:
    """KIS streams trades of every valid code, and the books of stocks, ETFs and ETNs (not ELWs)."""
    symbol = book_symbol(name)
    if symbol is None:
        return is_valid(name)
    return is_valid(symbol) and classify(symbol).kind is not InstrumentKind.ELW


def shared_slots(redis: aioredis.Redis, options: StreamerOptions, index: int, lease_seconds: float) -> SharedSlots:
    """The lease and global plan of KIS key ``index``'s ingest streamer, one of several (issue 18 part 5)."""
    planner = SubscriptionPlanner(options.slots, options.stable_seconds, _streamable)
    return SharedSlots(SlotLeases(redis, index, options.slots, lease_seconds), planner)


def _pollable(name: str) -> bool:
    """What KIS REST can answer for a demanded name: every symbol's quote, and the books KIS streams."""
    return book_symbol(name) is None or _streamable(name)


@dataclass
class Streamer:
    redis: aioredis.Redis
    database_url: str
    rest: KisRestClient
    websocket: KisWebSocket
    options: StreamerOptions
    planner: SubscriptionPlanner = field(init=False)
    publisher: TickPublisher = field(init=False)
    writer: TickWriter = field(init=False)
    fanout: Fanout | None = field(init=False, default=None)
    polled: list[str] = field(default_factory=list)
    # issue 18 part 5: several KIS app keys, one ingest streamer each, sharing the names through Redis leases
    shared: SharedSlots | None = None
    snapshots: int = 0
    watchlist: dict[str, dict[str, Any]] = field(default_factory=dict)  # issue 15: symbol -> why it is listed
    indicators: IndicatorWorker | None = field(init=False, default=None)  # issue 15: live candles, signals
    keeper: DemandKeeper | None = field(init=False, default=None)  # issue 17: demand rebuilt and reconciled
    feed: FeedWatch | None = field(init=False, default=None)  # issue 17: a stalled KIS feed
    publish_rate: float = 0.0  # ticks/s over the last status interval
    started_at: float = field(default_factory=time.time)
    tasks: dict[str, TaskHealth] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _snapshots: asyncio.Task[None] | None = None  # the reconnect snapshot's quotes, beside the demand task
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.planner = SubscriptionPlanner(self.options.slots, self.options.stable_seconds, _streamable)
        self.publisher = TickPublisher(
            self.redis, price_ttl=self.options.price_ttl, stream_maxlen=self.options.stream_maxlen
        )
        self.writer = TickWriter(self.redis, self.database_url, batch=self.options.writer_batch)
        if self.options.fanout:
            self.fanout = Fanout(self.redis, self.options.fanout_options)
        if self.options.fanout or self.options.reconcile:
            self.keeper = DemandKeeper(self.redis, self.options.reconcile_seconds)
        if self.options.stall_seconds is not None:
            self.feed = FeedWatch(self.options.stall_seconds, time.time())

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.websocket.start()
        tasks = {
            "ingest": self._ingest,
            "books": self._books,
            "demand": self._demand,
            "control": self._control,
            "poller": self._poll,
            "status": self._status,
        }
        if self.options.run_writer:
            tasks["writer"] = self.writer.run
        if self.fanout is not None:
            tasks["fanout"] = self.fanout.run
        if self.keeper is not None:
            tasks["reconciler"] = self.keeper.run
        # issue 15: live candles and buy signals of the watchlist's symbols (stopped with the other tasks)
        if self.shared is not None:  # issue 18 part 5: one of several KIS keys' sessions
            tasks["lease"] = self._lease
        if self.shared is None or self.shared.index == 0:  # one indicator worker, whatever the KIS keys
            self.indicators = IndicatorWorker(self.redis, lambda: self.watchlist)
            tasks["indicators"] = self.indicators.run
        self._tasks = [asyncio.create_task(self._supervised(name, fn), name=name) for name, fn in tasks.items()]

    async def stop(self) -> None:
        """Graceful: release KIS subscriptions, write what is in the stream, close."""
        self._stopping.set()
        self.writer.stop()
        running = [*self._tasks, *([self._snapshots] if self._snapshots is not None else [])]
        for task in running:
            task.cancel()
        # Every phase is bounded: a stuck peer must not hold the shutdown (an orchestrator kills us anyway).
        await self._bounded("tasks", asyncio.gather(*running, return_exceptions=True), 5)
        if self.fanout is not None:
            await self._bounded("fan-out close", self.fanout.close(), 3)
        releases = [self.websocket.unsubscribe(*_registration(s)) for s in sorted(self.planner.streamed)]
        await self._bounded("KIS releases", asyncio.gather(*releases, return_exceptions=True), 3)
        if self.shared is not None:  # the other keys' sessions take this one's names next round
            await self._bounded("KIS slot leases", self._leave_slots(self.shared), 3)
        await self._bounded("KIS close", self.websocket.close(), 5)
        await self._bounded("backlog", self.publisher.flush_backlog(), 3)
        if self.options.run_writer:
            await self._bounded("writer drain", self.writer.drain(), 12)
            await self._bounded("writer close", self.writer.close(), 3)

    @staticmethod
    async def _leave_slots(shared: SharedSlots) -> None:
        try:
            await shared.leases.leave()
        except (RedisError, OSError) as exc:  # the lease lapses by itself
            log.warning("KIS slot lease not given up (%s); it lapses in %.0fs", exc, shared.leases.lease_seconds)

    @staticmethod
    async def _bounded(phase: str, awaitable: Awaitable[Any], seconds: float) -> None:
        try:
            await asyncio.wait_for(awaitable, seconds)
        except TimeoutError:
            log.warning("shutdown: %s did not finish within %.0fs; going on", phase, seconds)

    async def _supervised(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        await supervise(f"streamer task {name}", fn, self.tasks.setdefault(name, TaskHealth()), self._stopping)

    # -- tasks -----------------------------------------------------------------------------------

    async def _ingest(self) -> None:
        async for ticks in self.websocket.coalesced():
            await self.publisher.publish_ticks(ticks)

    async def _books(self) -> None:
        async for books in self.websocket.books():
            await self.publisher.publish_books(books)

    async def _read_demand(self) -> tuple[dict[str, int], set[str]] | None:
        """Client demand (distinct users per symbol) and the watchlist; None when unknown this round.

        With the registry in use, a Redis that came back empty gets its demand rebuilt first."""
        try:
            if self.keeper is not None:
                await self.keeper.ensure()
            # redis-py types its commands as "awaitable or not" (one signature for both clients)
            counts = await cast(Awaitable[dict[str, str]], self.redis.hgetall(keys.DEMAND))
            users = await cast(Awaitable[dict[str, str]], self.redis.hgetall(keys.DEMAND_USERS))
            watchlist = await cast(Awaitable[set[str]], self.redis.smembers(keys.WATCHLIST))
            reasons = await cast(Awaitable[dict[str, str]], self.redis.hgetall(keys.WATCHLIST_REASONS))
        except (RedisError, OSError) as exc:
            log.warning("demand unavailable (%s); keeping the current plan", type(exc).__name__)
            return None
        except Exception as exc:  # the registry (the rebuild's source) is down: try again next round
            log.warning("demand rebuild failed (%s); keeping the current plan", type(exc).__name__)
            return None
        self.watchlist = {s: _watchlist_reason(reasons.get(s)) for s in watchlist}
        clients = fair_share({k: int(v) for k, v in counts.items()}, {k: int(v) for k, v in users.items()})
        return clients, watchlist

    async def _demand(self) -> None:
        connects_seen = 0
        quoted: set[str] = set()  # streamed symbols whose snapshot went out since the last KIS connect
        attempts: dict[str, int] = {}  # snapshot quotes tried per symbol since then
        while not self._stopping.is_set():
            wanted = await self._read_demand()  # None: unknown this round, the plan stays
            if wanted is not None:
                clients, watchlist = wanted
                await self._apply(self.planner.demand(clients, self.options.default_symbols, watchlist))
            # After every KIS connect, the first of this process included (a restarted streamer's clients
            # were the old process's and missed what it never sent), one REST quote of every streamed
            # symbol, so no client keeps a stale price: once the fan-out can reach them (its index rebuilt),
            # and for a symbol whose slot the paced plan gives later in this connect, when it gets it.
            connects = self.websocket.snapshot().connects
            if connects != connects_seen:
                connects_seen, quoted, attempts = connects, set(), {}
            snapshotting = self._snapshots is not None and not self._snapshots.done()
            if connects and self._fanout_ready() and not snapshotting:
                # A refused quote (the app key's 20 calls/s shared with backfills, EGW00201) is asked again
                # next round, up to SNAPSHOT_ATTEMPTS times; a KIS that never answers is then left alone.
                due = sorted(s for s in self._trade_slots() - quoted if attempts.get(s, 0) < SNAPSHOT_ATTEMPTS)
                for symbol in due:
                    attempts[symbol] = attempts.get(symbol, 0) + 1
                if due:  # beside the plan, not in it: a slow KIS REST must not hold new demand's slots back
                    self._snapshots = asyncio.create_task(self._snapshot_into(due, quoted), name="snapshot")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.options.plan_interval)
            except TimeoutError:
                pass

    def _trade_slots(self) -> set[str]:
        return {s for s in self.planner.streamed if book_symbol(s) is None}

    def _fanout_ready(self) -> bool:
        """The fan-out would deliver a message now (no fan-out: Redis subscribers get it anyway)."""
        return self.fanout is None or self.fanout.ready.is_set()

    async def _apply(self, scores: dict[str, float]) -> None:
        if self.shared is not None:
            await self._apply_shared(self.shared, scores)
            return
        plan = self.planner.plan(scores, time.monotonic())
        for symbol in plan.unsubscribe:
            await self.websocket.unsubscribe(*_registration(symbol))
        for symbol in plan.subscribe:
            try:
                await self.websocket.subscribe(*_registration(symbol))
            except KisMaxSubscriptions:
                self.planner.streamed.discard(symbol)  # KIS has fewer slots than configured: poll it
            except KisError as exc:
                log.warning("subscribe %s failed: %s (it is polled meanwhile)", symbol, exc)
                self.planner.streamed.discard(symbol)
        # a book without a slot is polled too (a REST snapshot, "source":"poll"), after the trades of equal demand
        self.polled = [s for s in scores if s not in self.planner.streamed and _pollable(s)]
        self.polled.sort(key=lambda s: (-scores[s], s))

    async def _apply_shared(self, shared: SharedSlots, scores: dict[str, float]) -> None:
        """One of several keys' sessions (:mod:`kstock_streamer.slots`): plan globally over every live
        session's slots, register only the names this session owns, poll this session's share of the rest.
        ``self.planner.streamed`` is what this session registers (status, snapshots, the release on stop)."""
        mine = self.planner.streamed
        try:
            if not await shared.renew():
                await self._unregister(sorted(mine))
                self.polled = []
                return
            plan = shared.planner.plan(scores, time.monotonic())
            ranked = sorted(plan.streamed, key=lambda s: (-scores.get(s, 0.0), book_symbol(s) is not None, s))
            move = assign(ranked, mine, await shared.leases.owners(), shared.index, shared.leases.capacity)
            await self._unregister(move.lost + move.release)
            await shared.leases.release(move.release)
            for name in await shared.leases.claim(move.claim):
                if name not in mine and not await self._register(name):
                    await shared.leases.release([name])  # refused here: another session may take it
            shared.owners = await shared.leases.owners()
        except (RedisError, OSError) as exc:
            log.warning("KIS slot leases unavailable (%s); keeping the current registrations", type(exc).__name__)
            return
        demanded = sorted((s for s in scores if _pollable(s)), key=lambda s: (-scores[s], s))
        self.polled = polled_share(demanded, shared.owners, shared.live, shared.index)

    async def _lease(self) -> None:
        """Renew this key's slot lease on its own beat, whatever the plan is doing (a demand that cannot be
        read, a reconnect snapshot of 41 quotes): a lapsed lease hands this session's names to the others."""
        shared = self.shared
        if shared is None:
            return
        while not self._stopping.is_set():
            try:
                await shared.renew()
            except (RedisError, OSError) as exc:
                log.warning("KIS slot lease not renewed (%s)", type(exc).__name__)
            await asyncio.sleep(min(self.options.plan_interval, shared.leases.lease_seconds / 4))

    async def _unregister(self, names: list[str]) -> None:
        for name in names:
            await self.websocket.unsubscribe(*_registration(name))
            self.planner.streamed.discard(name)

    async def _register(self, name: str) -> bool:
        """Register ``name`` on this session; False when KIS refused it (it is polled meanwhile)."""
        try:
            await self.websocket.subscribe(*_registration(name))
        except KisMaxSubscriptions:
            return False
        except KisError as exc:
            log.warning("subscribe %s failed: %s (it is polled meanwhile)", name, exc)
            return False
        self.planner.streamed.add(name)
        return True

    async def _control(self) -> None:
        """Demand announcements wake the planner at once (the counts themselves live in ``ws:demand``)."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(keys.CONTROL_CHANNEL)
        try:
            while not self._stopping.is_set():
                # polled with a timeout: an idle subscription must not trip the client's socket timeout
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    self._wake.set()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # redis-py: unannotated

    async def _quote(self, symbol: str) -> bool:
        try:
            message = await asyncio.to_thread(fetch_quote, self.rest, classify(symbol))
        except KisError as exc:
            log.info("poll of %s failed: %s", symbol, exc)
            return False
        return await self.publisher.publish_message(message)

    async def _poll_once(self, name: str) -> bool:
        """One REST call for a polled name: a symbol's quote, or ``BOOK#{symbol}``'s order book."""
        symbol = book_symbol(name)
        if symbol is None:
            return await self._quote(name)
        try:
            book = await asyncio.to_thread(self.rest.asking_price, symbol, classify(symbol).kis_market)
        except KisError as exc:
            log.info("poll of %s's order book failed: %s", symbol, exc)
            return False
        return await self.publisher.publish_books([book], source="poll")

    async def _snapshot_into(self, symbols: list[str], quoted: set[str]) -> None:
        """The reconnect snapshot as a task of its own: a failure is logged here (nobody awaits this task
        until stop), and the symbols it did not quote are due again next round."""
        try:
            quoted.update(await self._snapshot(symbols))
        except Exception:  # a bug in one snapshot must not go unheard nor end the streamer
            log.exception("snapshot of %s failed; asked again next round", symbols)

    async def _snapshot(self, symbols: list[str]) -> list[str]:
        """Quote ``symbols`` to their clients; the ones KIS answered."""
        quoted = [symbol for symbol in symbols if await self._quote(symbol)]
        self.snapshots += len(quoted)
        if symbols:
            log.info(
                "snapshot after KIS connect %d: quoted %s of %s", self.websocket.snapshot().connects, quoted, symbols
            )
        return quoted

    async def _poll(self) -> None:
        position = 0
        interval = 1.0 / self.options.poll_rate
        while not self._stopping.is_set():
            symbols = list(self.polled)
            if not symbols:
                await asyncio.sleep(interval)
                continue
            symbol = symbols[position % len(symbols)]
            position += 1
            started = time.monotonic()
            await self._poll_once(symbol)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    def _failing(self, name: str) -> bool:
        health = self.tasks.get(name)
        if health is None or not health.failing:
            return False
        # the fan-out says when it is back (its index rebuilt); other tasks recover by running a while
        return not (name == "fanout" and self.fanout is not None and self.fanout.ready.is_set())

    def problems(self) -> list[str]:
        """What is wrong, one phrase per broken part (empty when all is well)."""
        found = [f"{name} keeps failing: {self.tasks[name].last_error}" for name in self.tasks if self._failing(name)]
        if not self.websocket.snapshot().connected:
            found.append("ingest: the KIS WebSocket is not connected")
        if self.fanout is not None and not self.fanout.ready.is_set() and not self._failing("fanout"):
            found.append("fanout: not ready (rebuilding its index)")
        if self.feed is not None and (stalled := self.feed.problem(time.time())) is not None:
            found.append(stalled)
        return found

    def status(self) -> dict[str, object]:
        ws = self.websocket.snapshot()
        pub, wr = self.publisher.stats, self.writer.stats
        now = time.time()
        problems = self.problems()
        return {
            "ok": not problems,
            "problems": problems,
            "reportedAt": now,
            "tasks": {
                name: {**health.wire(), "state": "failing" if self._failing(name) else "running"}
                for name, health in self.tasks.items()
            },
            "fanoutRunning": self.fanout.ready.is_set() if self.fanout is not None else None,
            "kisConnected": ws.connected,
            "kisSource": provenance.kis_source(),  # "simulated": the KIS simulator answers (a label for users)
            "kisConnects": ws.connects,
            "slotsUsed": len(ws.subscriptions),
            "slotsLimit": self.options.slots,
            "kisSlots": self.shared.status() if self.shared is not None else None,  # issue 18: several KIS keys
            "streamed": sorted(self.planner.streamed),
            "polled": list(self.polled),
            "ticksPublished": pub.ticks,
            "booksPublished": pub.books,
            "publishRatePerSecond": round(self.publish_rate, 1),
            "publishCalls": pub.calls,
            "pricesPolled": pub.polled,
            "snapshots": self.snapshots,
            "redisErrors": pub.redis_errors,
            "backlog": pub.buffered,
            "lastPublishAt": pub.last_publish_at,
            "rowsWritten": wr.rows,
            "writerLagSeconds": round(now - wr.last_entry_ms / 1000, 3) if wr.last_entry_ms else None,
            "writerDbErrors": wr.db_errors,
            "uptimeSeconds": round(now - self.started_at, 1),
            "fanout": self.fanout.status() if self.fanout is not None else None,
            # issue 15: the watchlist job's symbols, whether each is streamed, and why it is listed
            "watchlist": [
                {"symbol": symbol, "streamed": self._streamed_anywhere(symbol), **why}
                for symbol, why in sorted(self.watchlist.items(), key=_watchlist_order)
            ],
            "indicators": self.indicators.status() if self.indicators is not None else None,
            "kisFeed": self.feed.wire(now) if self.feed is not None else None,  # issue 17: stalled / resumed
            "demand": self.keeper.status() if self.keeper is not None else None,
        }

    async def _watch_feed(self) -> None:
        """Judge the KIS feed and tell the clients (through the fan-out) when it stalls or resumes."""
        feed = self.feed
        if feed is None:
            return
        heard = self.websocket.snapshot().last_message_at
        now = time.time()
        before = feed.state
        feed.observe(heard.timestamp() if heard is not None else None, now)
        if feed.state != before:
            log.warning("KIS feed %s (%.0fs without a message)", feed.state, feed.silent_for(now))
        message = feed.pending(now)
        if message is None:
            return
        try:
            await self.redis.publish(keys.STREAM_STATUS, json.dumps(message, separators=(",", ":")))
        except (RedisError, OSError):
            return  # told next second
        feed.told(message)

    def _streamed_anywhere(self, name: str) -> bool:
        """Registered by this session, or (several KIS keys) by another key's session."""
        return name in self.planner.streamed or (self.shared is not None and name in self.shared.owners)

    def _status_key(self) -> str:
        """``streamer:status`` (/health reads it); the ingest streamers of further KIS keys keep their own."""
        index = self.shared.index if self.shared is not None else 0
        return keys.STREAMER_STATUS if index == 0 else keys.streamer_key_status(index)

    async def _status(self) -> None:
        last_ticks, last_at = self.publisher.stats.ticks, time.monotonic()
        while not self._stopping.is_set():
            await self.publisher.flush_backlog()
            now = time.monotonic()
            self.publish_rate = (self.publisher.stats.ticks - last_ticks) / max(now - last_at, 1e-6)
            last_ticks, last_at = self.publisher.stats.ticks, now
            await self._watch_feed()
            status = self.status()
            try:
                await self.redis.set(self._status_key(), json.dumps(status), ex=10)
            except (RedisError, OSError):
                pass
            await asyncio.sleep(1)
