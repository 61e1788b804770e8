"""The fan-out: Redis ticks -> API Gateway ``@connections`` -> WebSocket clients.

One Redis pub/sub connection (read with hiredis directly: redis-py's pub/sub costs ~60 µs of
CPU per message, thousands of times a second) carries, in order, the ticks (``stock:realtime:*``), the demand
announcements of the WebSocket handlers (``ws:control``) and theme updates (``themes:updates``).
An in-memory index symbol -> connections answers "who gets this tick"; it is rebuilt from the
connection registry on start (a Query of the ``SYM#`` partition of every symbol in ``ws:demand``
and of the ``themes`` topic, never a Scan; the pub/sub subscription is made first, so nothing
announced meanwhile is missed) and kept current from the announcements.

Delivery is one ``POST {endpoint}/@connections/{id}`` per message, SigV4-signed, through a lean
keep-alive HTTP client (:mod:`kstock_streamer.poster`; at most ``concurrency`` calls in flight). Each
connection has at most one call in flight, so its messages arrive in order. Two modes:

* ``tick``: every tick is its own message, the contract's tick JSON as published;
* ``batch``: at most one ``{"type":"ticks","data":[...]}`` per connection per window, holding
  the newest tick of each symbol that traded since the last message (so nothing in it is older
  than the window), split to stay under API Gateway's 32 KB frame. A tick does not visit its
  batch subscribers (a hundred per symbol at scale, thousands of times a second): it becomes the
  symbol's newest, numbered; a connection sends, when its window comes, what is newer than what
  it last sent; only connections asleep (nothing new for them last time) are woken by a tick.

410 Gone: the connection left without ``$disconnect`` reaching us; it leaves the index at once
and the registry and the demand counts in the background. 429 / ``LimitExceededException`` (and
5xx or a network error): that connection backs off exponentially; its queued messages stay,
and in ``batch`` mode the newest price of each symbol is what is sent when it resumes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import hiredis
import redis.asyncio as aioredis

from kstock import aws, keys
from kstock.aws import connections_endpoint
from kstock.config import Settings, get_settings
from kstock.realtime import registry, session
from kstock.realtime.signing import SigV4Signer, connection_url, default_credentials, local_credentials
from kstock_streamer.poster import Poster, PostError

log = logging.getLogger("kstock_streamer.fanout")

FRAME_LIMIT = 32 * 1024
BATCH_BUDGET = FRAME_LIMIT - 2048  # bytes of one batch message: headroom below the 32 KB frame
_HEAD, _TAIL = '{"type":"ticks","data":[', "]}"

OK, GONE, THROTTLED, FAILED = "ok", "gone", "throttled", "failed"


@dataclass
class FanoutOptions:
    concurrency: int = 256
    queue_limit: int = 1000
    timeout: float = 5.0
    default_window: float = 0.1  # seconds, batch mode without a window of its own
    backoff_initial: float = 0.05
    backoff_max: float = 5.0
    max_failures: int = 5  # consecutive failed calls before a message is given up
    region: str = "ap-northeast-2"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> FanoutOptions:
        s = settings or get_settings()
        return cls(
            concurrency=s.fanout_concurrency,
            queue_limit=s.fanout_queue_limit,
            timeout=s.fanout_timeout,
            default_window=s.ws_batch_window_ms / 1000,
            region=s.aws_region,
        )


@dataclass
class FanoutStats:
    calls: dict[str, int] = field(default_factory=lambda: {"tick": 0, "batch": 0})
    messages: dict[str, int] = field(default_factory=lambda: {"tick": 0, "batch": 0})  # ticks delivered
    wanted: dict[str, int] = field(default_factory=lambda: {"tick": 0, "batch": 0})  # one-by-one deliveries
    theme_updates: int = 0
    signals: int = 0  # issue 15: live buy signals delivered to the signals topic
    gone: int = 0
    throttled: int = 0
    failed: int = 0
    dropped: int = 0
    announcements: int = 0
    rebuilds: int = 0
    last_broadcast_at: float | None = None


class Connection:
    """One client as the fan-out sees it: where to post, how, and what waits for it."""

    __slots__ = (
        "id",
        "url",
        "host",
        "mode",
        "window",
        "symbols",
        "topics",
        "queue",
        "sent",
        "busy",
        "timer",
        "last_sent",
        "retry_at",
        "backoff",
        "failures",
        "gone",
    )

    def __init__(self, connection_id: str, endpoint: str, mode: str, window: float) -> None:
        self.id = connection_id
        self.url = connection_url(endpoint, connection_id)
        self.host = endpoint.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        self.mode = mode
        self.window = window
        self.symbols: set[str] = set()
        self.topics: set[str] = set()
        self.queue: deque[bytes] = deque()  # individual messages (ticks in tick mode, theme updates)
        self.sent: dict[str, int] = {}  # batch mode: symbol -> number of the newest tick it has been sent
        self.busy = False
        self.timer: asyncio.TimerHandle | None = None
        self.last_sent = float("-inf")
        self.retry_at = 0.0
        self.backoff = 0.0
        self.failures = 0
        self.gone = False


def load_index(
    symbols: Iterable[str], topics: Iterable[str] = session.TOPICS, workers: int = 8
) -> tuple[dict[str, registry.ConnectionInfo], dict[str, set[str]], dict[str, set[str]]]:
    """Who wants what, from the registry: Queries of the given symbol and topic partitions, then
    the connections' META items (BatchGet). Returns (connections, symbol -> ids, topic -> ids)."""
    symbols, topics = list(symbols), list(topics)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        by_symbol = dict(zip(symbols, pool.map(registry.subscribers_of, symbols), strict=True))
        by_topic = dict(zip(topics, pool.map(registry.topic_subscribers, topics), strict=True))
    wanted = {cid for ids in (*by_symbol.values(), *by_topic.values()) for cid in ids}
    infos = registry.get_many(wanted) if wanted else {}
    return (
        infos,
        {s: {c for c in ids if c in infos} for s, ids in by_symbol.items()},
        {t: {c for c in ids if c in infos} for t, ids in by_topic.items()},
    )


class Fanout:
    def __init__(
        self,
        redis: aioredis.Redis,
        options: FanoutOptions | None = None,
        *,
        signer: SigV4Signer | None = None,
        forget: Callable[[str], Any] | None = None,
    ) -> None:
        self.redis = redis
        self.options = options or FanoutOptions.from_settings()
        self.signer = signer
        self._forget_remote = forget or session.close_connection
        self.stats = FanoutStats()
        self.connections: dict[str, Connection] = {}
        self.by_symbol: dict[str, dict[str, Connection]] = {}  # every subscriber
        self.ticking: dict[str, dict[str, Connection]] = {}  # ... in tick mode
        self.batching: dict[str, dict[str, Connection]] = {}  # ... in batch mode
        self.asleep: dict[str, dict[str, Connection]] = {}  # batch ones waiting for a tick
        self.by_topic: dict[str, dict[str, Connection]] = {}
        self.latest: dict[str, tuple[int, str]] = {}  # symbol -> (number, newest tick JSON)
        self._numbered = 0
        self.ready = asyncio.Event()
        self._http: Poster | None = None
        self._sem = asyncio.Semaphore(self.options.concurrency)
        self._tasks: set[asyncio.Task] = set()
        self._prefix = keys.realtime_channel("")
        self._signers: dict[bool, SigV4Signer] = {}
        self._in_flight = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe, rebuild the index, then deliver until cancelled (restarted by the streamer)."""
        self.ready.clear()
        if self._http is None:
            self._http = Poster(timeout=self.options.timeout)
        connection = self.redis.connection_pool.make_connection()
        await connection.connect()
        try:
            stream = connection._reader  # the socket redis-py authenticated (AUTH, SELECT, TLS) for us
            reader = hiredis.Reader(encoding="utf-8", errors="replace")
            # subscribe before reading the registry: what is announced meanwhile waits in the socket
            await connection.send_command("PSUBSCRIBE", keys.REALTIME_CHANNEL_PATTERN)
            await connection.send_command("SUBSCRIBE", keys.CONTROL_CHANNEL, keys.THEME_UPDATES, keys.SIGNAL_UPDATES)
            confirmed = 0
            while confirmed < 4:
                for reply in await self._replies(stream, reader):
                    confirmed += reply[0] in ("subscribe", "psubscribe")
                    self._dispatch(reply)
            await self._rebuild()
            self.ready.set()
            while True:
                for reply in await self._replies(stream, reader):
                    self._dispatch(reply)
        finally:
            self.ready.clear()
            await connection.disconnect()

    @staticmethod
    async def _replies(stream: asyncio.StreamReader, reader: hiredis.Reader) -> list[list[Any]]:
        data = await stream.read(1 << 16)
        if not data:
            raise ConnectionError("Redis closed the pub/sub connection")
        reader.feed(data)
        replies = []
        while (reply := reader.gets()) is not False:
            if isinstance(reply, Exception):
                raise reply
            replies.append(reply)
        return replies

    async def close(self) -> None:
        for conn in self.connections.values():
            if conn.timer:
                conn.timer.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def _rebuild(self) -> None:
        symbols = await self.redis.hkeys(keys.DEMAND)
        infos, by_symbol, by_topic = await asyncio.to_thread(load_index, symbols)
        old = self.connections
        self.connections, self.by_symbol, self.by_topic = {}, {}, {}
        self.ticking, self.batching, self.asleep = {}, {}, {}
        for cid, info in infos.items():
            if not info.domain_name or not info.stage:
                continue
            conn = old.pop(cid, None) or Connection(
                cid, connections_endpoint(info.domain_name, info.stage), info.mode, self._window(info.window_ms)
            )
            conn.mode, conn.window = info.mode, self._window(info.window_ms)
            conn.symbols.clear()
            conn.sent.clear()
            conn.topics.clear()
            self.connections[cid] = conn
        for symbol, ids in by_symbol.items():
            for cid in ids:
                if cid in self.connections:
                    self._add_symbol(self.connections[cid], symbol)
        for topic, ids in by_topic.items():
            for cid in ids:
                if cid in self.connections:
                    self._add_topic(self.connections[cid], topic)
        for conn in old.values():  # gone while we were away
            self._drop(conn)
        self.stats.rebuilds += 1
        log.info("fan-out index rebuilt: %d connections on %d symbols", len(self.connections), len(self.by_symbol))

    def _window(self, window_ms: int | None) -> float:
        return window_ms / 1000 if window_ms else self.options.default_window

    # -- index -------------------------------------------------------------------------------------

    def _add_symbol(self, conn: Connection, symbol: str) -> None:
        conn.symbols.add(symbol)
        self.by_symbol.setdefault(symbol, {})[conn.id] = conn
        if conn.mode == "batch":
            self.batching.setdefault(symbol, {})[conn.id] = conn
            # what traded before the subscription is not news to it
            conn.sent.setdefault(symbol, self.latest.get(symbol, (0, ""))[0])
            if not conn.busy and conn.timer is None:
                self.asleep.setdefault(symbol, {})[conn.id] = conn
        else:
            self.ticking.setdefault(symbol, {})[conn.id] = conn

    def _set_mode(self, conn: Connection, mode: str, window: float) -> None:
        conn.window = window
        if mode == conn.mode:
            return
        symbols = list(conn.symbols)
        for symbol in symbols:
            self._remove_symbol(conn, symbol)
        conn.mode = mode
        for symbol in symbols:
            self._add_symbol(conn, symbol)

    def _add_topic(self, conn: Connection, topic: str) -> None:
        conn.topics.add(topic)
        self.by_topic.setdefault(topic, {})[conn.id] = conn

    def _remove_symbol(self, conn: Connection, symbol: str) -> None:
        conn.symbols.discard(symbol)
        conn.sent.pop(symbol, None)
        for index in (self.by_symbol, self.ticking, self.batching, self.asleep):
            subs = index.get(symbol)
            if subs is not None:
                subs.pop(conn.id, None)
                if not subs:
                    del index[symbol]

    def _remove_topic(self, conn: Connection, topic: str) -> None:
        conn.topics.discard(topic)
        subs = self.by_topic.get(topic)
        if subs is not None:
            subs.pop(conn.id, None)
            if not subs:
                del self.by_topic[topic]

    def _drop(self, conn: Connection) -> None:
        """Out of the index, nothing more sent."""
        conn.gone = True
        for symbol in list(conn.symbols):
            self._remove_symbol(conn, symbol)
        for topic in list(conn.topics):
            self._remove_topic(conn, topic)
        conn.queue.clear()
        if conn.timer:
            conn.timer.cancel()
            conn.timer = None
        if self.connections.get(conn.id) is conn:
            del self.connections[conn.id]

    def subscribers(self, symbol: str) -> list[str]:
        return list(self.by_symbol.get(symbol, ()))

    # -- incoming ----------------------------------------------------------------------------------

    def _dispatch(self, reply: list[Any]) -> None:
        """One pub/sub push: ``[pmessage, pattern, channel, data]`` or ``[message, channel, data]``."""
        kind = reply[0]
        if kind == "pmessage":
            self._tick(reply[2][len(self._prefix) :], reply[3])
        elif kind == "message":
            if reply[1] == keys.CONTROL_CHANNEL:
                self._control(reply[2])
            elif reply[1] == keys.THEME_UPDATES:
                self._theme(reply[2])
            elif reply[1] == keys.SIGNAL_UPDATES:
                self._signal(reply[2])

    def _tick(self, symbol: str, text: str) -> None:
        if symbol not in self.by_symbol:
            return
        self._numbered += 1
        self.latest[symbol] = (self._numbered, text)
        stats = self.stats
        ticking = self.ticking.get(symbol)
        if ticking:
            payload = text.encode()
            limit = self.options.queue_limit
            for conn in ticking.values():
                queue = conn.queue
                queue.append(payload)
                if len(queue) > limit:  # a throttled or slow client: the oldest go, the newest stay
                    queue.popleft()
                    stats.dropped += 1
                if not conn.busy and conn.timer is None:
                    self._schedule(conn)
            stats.wanted["tick"] += len(ticking)
        batching = self.batching.get(symbol)
        if batching:
            stats.wanted["batch"] += len(batching)
            sleepers = self.asleep.pop(symbol, None)
            if sleepers:
                for conn in sleepers.values():
                    self._wake(conn)

    def _control(self, text: str) -> None:
        try:
            message = json.loads(text)
        except (TypeError, ValueError):
            return
        if not isinstance(message, dict) or not isinstance(message.get("connectionId"), str):
            return  # e.g. a bare wake-up for the planner
        self.stats.announcements += 1
        cid, event = message["connectionId"], message.get("event")
        symbols = [s for s in message.get("symbols") or () if isinstance(s, str)]
        topics = [t for t in message.get("topics") or () if isinstance(t, str)]
        conn = self.connections.get(cid)
        if event == "subscribe":
            mode = message.get("mode")
            window = self._window(message.get("windowMs") if isinstance(message.get("windowMs"), int) else None)
            if conn is None:
                domain, stage = message.get("domainName"), message.get("stage")
                if not isinstance(domain, str) or not isinstance(stage, str):
                    return
                conn = Connection(
                    cid, connections_endpoint(domain, stage), mode if mode in registry.MODES else "tick", window
                )
                self.connections[cid] = conn
            elif mode in registry.MODES:
                self._set_mode(conn, mode, window)
            for symbol in symbols:
                self._add_symbol(conn, symbol)
            for topic in topics:
                self._add_topic(conn, topic)
        elif event == "unsubscribe" and conn is not None:
            for symbol in symbols:
                self._remove_symbol(conn, symbol)
            for topic in topics:
                self._remove_topic(conn, topic)
        elif event == "disconnect" and conn is not None:
            self._drop(conn)

    def _theme(self, text: str) -> None:
        subs = self.by_topic.get("themes")
        if not subs:
            return
        try:
            update = json.loads(text)
        except (TypeError, ValueError):
            log.warning("theme update is not JSON; not delivered")
            return
        body = (
            {"type": "theme_update", **{k: v for k, v in update.items() if k != "type"}}
            if isinstance(update, dict)
            else {"type": "theme_update", "data": update}
        )
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        for conn in subs.values():
            conn.queue.append(payload)
            self.stats.theme_updates += 1
            if not conn.busy and conn.timer is None:
                self._schedule(conn)

    def _signal(self, text: str) -> None:
        """A live buy signal (issue 15), already ``{"type":"signal",...}``, to the ``signals`` topic."""
        subs = self.by_topic.get("signals")
        if not subs:
            return
        try:
            body = json.loads(text)
        except (TypeError, ValueError):
            log.warning("signal is not JSON; not delivered")
            return
        if not isinstance(body, dict):
            return
        payload = json.dumps({**body, "type": "signal"}, ensure_ascii=False, separators=(",", ":")).encode()
        for conn in subs.values():
            conn.queue.append(payload)
            self.stats.signals += 1
            if not conn.busy and conn.timer is None:
                self._schedule(conn)

    # -- delivery ----------------------------------------------------------------------------------

    def _news(self, conn: Connection) -> Iterator[tuple[str, int, str]]:
        """Batch mode: (symbol, number, tick JSON) of each symbol's newest tick it has not been sent."""
        latest, sent = self.latest, conn.sent
        for symbol in conn.symbols:
            known = latest.get(symbol)
            if known is not None and known[0] > sent.get(symbol, 0):
                yield symbol, *known

    def _has_news(self, conn: Connection) -> bool:
        return next(self._news(conn), None) is not None

    def _wake(self, conn: Connection) -> None:
        for symbol in conn.symbols:
            sleepers = self.asleep.get(symbol)
            if sleepers is not None and sleepers.pop(conn.id, None) is not None and not sleepers:
                del self.asleep[symbol]
        self._schedule(conn)

    def _sleep(self, conn: Connection) -> None:
        for symbol in conn.symbols:
            self.asleep.setdefault(symbol, {})[conn.id] = conn

    def _schedule(self, conn: Connection) -> None:
        if conn.busy or conn.gone or conn.timer is not None:
            return
        if conn.queue:
            due = conn.retry_at
        elif conn.mode == "batch" and self._has_news(conn):
            due = max(conn.last_sent + conn.window, conn.retry_at)
        else:
            if conn.mode == "batch":
                self._sleep(conn)
            return
        loop = asyncio.get_running_loop()
        if due <= loop.time():
            self._start(conn)
        else:
            conn.timer = loop.call_at(due, self._fire, conn)

    def _fire(self, conn: Connection) -> None:
        conn.timer = None
        self._schedule(conn)

    def _start(self, conn: Connection) -> None:
        conn.busy = True
        task = asyncio.create_task(self._drain(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not conn.gone and loop.time() >= conn.retry_at:
                if conn.queue:
                    body = conn.queue[0]
                    outcome = await self._post(conn, body)
                    if outcome == OK:
                        if conn.queue and conn.queue[0] is body:
                            conn.queue.popleft()
                        self.stats.calls[conn.mode] += 1
                        if body.startswith(b'{"type":"tick"'):
                            self.stats.messages["tick"] += 1
                    elif not self._failed(conn, outcome, give_up=lambda: conn.queue and conn.queue.popleft()):
                        return
                    continue
                if conn.mode == "batch" and loop.time() >= conn.last_sent + conn.window:
                    news = list(self._news(conn))
                    if news:
                        conn.last_sent = loop.time()
                        if not await self._send_batch(conn, news):
                            return
                        continue
                break
        finally:
            conn.busy = False
            if not conn.gone:
                self._schedule(conn)

    async def _send_batch(self, conn: Connection, news: list[tuple[str, int, str]]) -> bool:
        """Post the newest ticks in messages under the frame limit; False when the connection is gone.
        What a failed call did not deliver stays news (or is replaced by a newer tick meanwhile)."""
        while news:
            parts: list[tuple[str, int, str]] = []
            size = len(_HEAD) + len(_TAIL)
            while news and (not parts or size + len(news[0][2]) + 1 <= BATCH_BUDGET):
                parts.append(news.pop(0))
                size += len(parts[-1][2]) + 1
            outcome = await self._post(conn, (_HEAD + ",".join(p[2] for p in parts) + _TAIL).encode())
            if outcome == OK:
                self.stats.calls["batch"] += 1
                self.stats.messages["batch"] += len(parts)
                for symbol, number, _ in parts:
                    if symbol in conn.symbols:  # not unsubscribed while the call was out
                        conn.sent[symbol] = max(conn.sent.get(symbol, 0), number)
                continue
            if outcome == GONE:
                self._gone(conn)
                return False
            self._failed(conn, outcome, give_up=lambda: None)
            return not conn.gone
        return True

    def _failed(self, conn: Connection, outcome: str, give_up: Callable[[], Any]) -> bool:
        """Handle a call that did not deliver; False when the connection is gone."""
        if outcome == GONE:
            self._gone(conn)
            return False
        if outcome == THROTTLED:
            self.stats.throttled += 1
        else:
            self.stats.failed += 1
            conn.failures += 1
            if conn.failures >= self.options.max_failures:  # not throttling: something is wrong with it
                give_up()
                conn.failures = 0
        conn.backoff = min(max(conn.backoff * 2, self.options.backoff_initial), self.options.backoff_max)
        conn.retry_at = asyncio.get_running_loop().time() + conn.backoff * random.uniform(0.8, 1.2)
        return True

    def _gone(self, conn: Connection) -> None:
        if conn.gone:
            return
        self.stats.gone += 1
        self._drop(conn)
        task = asyncio.create_task(self._forget(conn.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forget(self, connection_id: str) -> None:
        """Registry and demand, like a ``$disconnect`` would (the registry makes sure it counts once)."""
        try:
            await asyncio.to_thread(self._forget_remote, connection_id)
        except Exception:  # the TTL removes the rows eventually; the index already forgot it
            log.exception("could not remove gone connection %s from the registry", connection_id)

    def _signer(self, host: str) -> SigV4Signer:
        if self.signer is not None:
            return self.signer
        local = aws.is_local(f"http://{host}")  # the local gateway: local credentials
        signer = self._signers.get(local)
        if signer is None:
            signer = SigV4Signer(self.options.region, local_credentials if local else default_credentials())
            self._signers[local] = signer
        return signer

    async def _post(self, conn: Connection, body: bytes) -> str:
        async with self._sem:
            self._in_flight += 1
            headers = self._signer(conn.host).headers("POST", conn.url, body)
            try:
                response = await self._http.post(conn.url, body, headers)
            except PostError as exc:
                log.debug("@connections call to %s failed: %s", conn.id, exc)
                return FAILED
            finally:
                self._in_flight -= 1
            status = response.status
            if status < 300:
                conn.backoff, conn.failures = 0.0, 0
                self.stats.last_broadcast_at = time.time()
                return OK
            error = response.headers.get("x-amzn-errortype", "") or response.body.decode("utf-8", "replace")
        if status == 410:
            return GONE
        if status == 429 or "LimitExceeded" in error or "Throttl" in error:
            return THROTTLED
        if self.stats.failed % 1000 == 0:
            log.warning("@connections answered %s for %s: %s", status, conn.id, error[:200])
        return FAILED

    # -- status ------------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        s = self.stats
        modes = {"tick": 0, "batch": 0}
        for conn in self.connections.values():
            modes[conn.mode] = modes.get(conn.mode, 0) + 1
        return {
            "ready": self.ready.is_set(),
            "connections": len(self.connections),
            "connectionsByMode": modes,
            "subscriptions": sum(len(c) for c in self.by_symbol.values()),
            "symbols": len(self.by_symbol),
            "topicSubscribers": {t: len(c) for t, c in self.by_topic.items()},
            "calls": dict(s.calls),
            "messages": dict(s.messages),
            "oneByOne": dict(s.wanted),
            "themeUpdates": s.theme_updates,
            "signals": s.signals,
            "gone": s.gone,
            "throttled": s.throttled,
            "failed": s.failed,
            "dropped": s.dropped,
            "announcements": s.announcements,
            "rebuilds": s.rebuilds,
            "inFlight": self._in_flight,
            "queued": sum(len(c.queue) for c in self.connections.values()),
            "awaitingBatch": sum(1 for c in self.connections.values() if c.mode == "batch" and self._has_news(c)),
            "lastBroadcastAt": s.last_broadcast_at,
        }
