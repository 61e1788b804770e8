"""The KIS realtime WebSocket session: connect, subscribe, read, answer PINGPONG, reconnect.

One :class:`KisWebSocket` per app key (KIS allows one live session per key, OPSP8996). It keeps
the set of *wanted* subscriptions; on any drop it reconnects with exponential backoff and full
jitter, takes a fresh approval key when KIS says the old one is unknown, and re-registers every
wanted subscription (OPSP0002 "already in subscribe" counts as success, as after a quick reconnect).

Ticks are delivered per frame, either to an ``on_ticks`` callback or through :meth:`ticks`; order
books (H0STASP0 frames) likewise, to ``on_books`` or through :meth:`books`, each stamped with its
arrival inside the second KIS gave it (:func:`arrival_stamped`).
:meth:`snapshot` reports connection health (connected, subscriptions, errors, counters).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kstock.config import Settings, get_settings
from kstock.kis import endpoints
from kstock.kis.errors import (
    KisAppKeyInUse,
    KisError,
    KisInvalidApproval,
    KisMaxSubscriptions,
    KisUnavailable,
    KisWsClosed,
    KisWsError,
    MalformedFrame,
)
from kstock.kis.models import OrderBook, Tick
from kstock.kis.protocol import FrameParser, control_error, parse_control, subscription_message

log = logging.getLogger("kstock.kis.ws")

Subscription = tuple[str, str]  # (tr_id, tr_key)


class ApprovalSource(Protocol):
    """Anything that hands out approval keys, e.g. :class:`kstock.kis.auth.KisAuth` (blocking call)."""

    def approval_key(self, fresh: bool = False) -> str: ...


@dataclass
class ConnectionState:
    url: str
    connected: bool = False
    wanted: frozenset[Subscription] = frozenset()
    subscriptions: frozenset[Subscription] = frozenset()  # acknowledged on the current session
    connects: int = 0
    disconnects: int = 0
    pingpongs: int = 0
    frames: int = 0
    records: int = 0
    malformed_frames: int = 0
    dropped_batches: int = 0
    last_error: str | None = None
    last_message_at: datetime | None = None
    connected_at: datetime | None = None
    drift: dict[str, int] = field(default_factory=dict)
    background_sends: int = 0  # subscribe(wait=False) sends still waiting for KIS's answer


_LAST_INSTANT = timedelta(microseconds=999_000)


def arrival_stamped(book: OrderBook, received: datetime) -> OrderBook:
    """``book`` with the arrival's fraction of a second when it arrived in the second KIS stamped it
    (the last millisecond of that second when it arrived later; unchanged when it seems early).

    KIS times a book to the second (``BSOP_HOUR``) and sends several a second; a client limited to a
    few books a second (``WS_ORDERBOOK_MAX_PER_SECOND``) can only be paced, and checked, by times
    finer than that. The stamp never leaves KIS's second, so books of one symbol stay in order."""
    second = book.timestamp
    if received <= second or second.microsecond:
        return book
    return replace(book, timestamp=second + min(received - second, _LAST_INSTANT))


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max, initial * 2**attempt)]."""
    ceiling = min(maximum, initial * (2 ** min(attempt, 30)))
    return (rng or random).uniform(0, ceiling)


class KisWebSocket:
    def __init__(
        self,
        url: str,
        approval: ApprovalSource,
        *,
        custtype: str = "P",
        max_subscriptions: int | None = 41,
        pingpong_reply: Literal["echo", "pong"] = "echo",
        reconnect_initial: float = 0.5,
        reconnect_max: float = 30.0,
        ack_timeout: float = 10.0,
        open_timeout: float = 10.0,
        idle_timeout: float | None = 180.0,
        send_interval: float = 0.0,
        on_ticks: Callable[[list[Tick]], None] | None = None,
        on_books: Callable[[list[OrderBook]], None] | None = None,
        queue_size: int = 10_000,
        parser: FrameParser | None = None,
    ) -> None:
        self.url = url
        self._approval = approval
        self.custtype = custtype
        self.max_subscriptions = max_subscriptions
        self.pingpong_reply = pingpong_reply
        self.reconnect_initial, self.reconnect_max = reconnect_initial, reconnect_max
        self.ack_timeout, self.open_timeout, self.idle_timeout = ack_timeout, open_timeout, idle_timeout
        self.send_interval = send_interval  # KIS samples pace subscribe sends (0.05 s real, 0.5 s mock)
        self.parser = parser or FrameParser()
        self._on_ticks = on_ticks
        self._queue: asyncio.Queue[list[Tick]] = asyncio.Queue(maxsize=queue_size)
        self._on_books = on_books
        self._book_queue: asyncio.Queue[list[OrderBook]] = asyncio.Queue(maxsize=queue_size)
        self._state = ConnectionState(url=url)
        self._wanted: dict[Subscription, None] = {}  # ordered set: restore in subscription order
        self._acked: set[Subscription] = set()
        self._pending: dict[tuple[Subscription, bool], asyncio.Future[None]] = {}
        self._refused: dict[Subscription, KisWsError] = {}  # refusals met while restoring
        self._ws: ClientConnection | None = None
        self._approval_key: str | None = None
        self._task: asyncio.Task[None] | None = None
        # Sends started without waiting (subscribe(wait=False)): the event loop keeps only weak
        # references to tasks, so they are held here until done, and close() cancels them.
        self._background: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self._changed = asyncio.Event()
        self._attempt = 0

    @classmethod
    def from_settings(cls, approval: ApprovalSource, settings: Settings | None = None, **kwargs: Any) -> KisWebSocket:
        settings = settings or get_settings()
        options: dict[str, Any] = dict(
            custtype=settings.kis_custtype,
            max_subscriptions=settings.kis_ws_max_subscriptions,
            pingpong_reply=settings.kis_ws_pingpong_reply,
            reconnect_initial=settings.kis_ws_reconnect_initial,
            reconnect_max=settings.kis_ws_reconnect_max,
        )
        options.update(kwargs)
        return cls(endpoints.ws_url(settings), approval, **options)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._closing.clear()
            self._task = asyncio.create_task(self._run(), name="kis-ws")

    async def close(self) -> None:
        self._closing.set()
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        background = list(self._background)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` in the background, referenced until done; a failure is logged, never lost."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:  # _send_quietly answers KIS errors itself: anything else is a bug to see
            self._state.last_error = f"{type(exc).__name__}: {exc}"
            self._touch()
            log.error("KIS background task %s failed", task.get_name(), exc_info=exc)

    async def __aenter__(self) -> KisWebSocket:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- state ---------------------------------------------------------------------------------

    def snapshot(self) -> ConnectionState:
        stats = self.parser.stats
        return replace(
            self._state,
            wanted=frozenset(self._wanted),
            subscriptions=frozenset(self._acked),
            frames=stats.frames,
            records=stats.records,
            malformed_frames=stats.malformed_frames,
            drift=dict(stats.drift),
            background_sends=len(self._background),
        )

    @property
    def connected(self) -> bool:
        return self._state.connected

    def _touch(self) -> None:
        self._changed.set()

    async def wait_until(self, predicate: Callable[[ConnectionState], bool], timeout: float) -> ConnectionState:
        """Wait until ``predicate(snapshot())`` holds; raises TimeoutError at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = self.snapshot()
            if predicate(state):
                return state
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"KIS WebSocket state not reached in {timeout}s: {state}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    # -- subscriptions -------------------------------------------------------------------------

    async def subscribe(self, tr_id: str, tr_key: str, *, wait: bool = True) -> None:
        """Want ``(tr_id, tr_key)`` from now on; when connected and ``wait``, until KIS acknowledges.

        Raises :class:`KisMaxSubscriptions` past the session limit (locally, or OPSP0008 from
        KIS), :class:`KisAppKeyInUse` on OPSP8996 and other :class:`KisWsError` on refusals.
        """
        key = (tr_id, tr_key)
        if key not in self._wanted:
            if self.max_subscriptions is not None and len(self._wanted) >= self.max_subscriptions:
                raise KisMaxSubscriptions(
                    f"{self.max_subscriptions} subscriptions already wanted",
                    code="OPSP0008",
                    tr_id=tr_id,
                    tr_key=tr_key,
                )
            self._wanted[key] = None
            self._touch()
        ws = self._ws
        if not wait:
            if ws is not None:
                self._spawn(self._send_quietly(ws, key), name=f"kis-ws-subscribe-{key[0]}-{key[1]}")
            return
        if ws is None:
            # Not connected (yet): the (re)connect restores it; wait a while for that to happen.
            self._refused.pop(key, None)
            try:
                await self.wait_until(
                    lambda s: key in s.subscriptions or key not in s.wanted, self.open_timeout + self.ack_timeout
                )
            except TimeoutError:
                return  # still wanted: restored whenever the connection comes up
            if key in self._refused:
                raise self._refused.pop(key)
            return
        try:
            await self._request(ws, key, subscribe=True)
        except KisWsClosed:
            pass  # re-sent on reconnect
        except (KisMaxSubscriptions, KisAppKeyInUse):
            self._wanted.pop(key, None)
            self._touch()
            raise

    async def unsubscribe(self, tr_id: str, tr_key: str) -> None:
        key = (tr_id, tr_key)
        self._wanted.pop(key, None)
        self._touch()
        ws = self._ws
        if ws is not None and key in self._acked:
            try:
                await self._request(ws, key, subscribe=False)
            except KisWsClosed:
                pass
            except KisWsError as exc:
                log.info("KIS release of %s refused: %s", key, exc)
        self._acked.discard(key)

    async def _send_quietly(self, ws: ClientConnection, key: Subscription) -> None:
        try:
            await self._request(ws, key, subscribe=True)
        except KisError as exc:
            self._state.last_error = str(exc)
            if isinstance(exc, KisMaxSubscriptions | KisAppKeyInUse):
                self._wanted.pop(key, None)
                self._refused[key] = exc
            self._touch()

    async def _request(self, ws: ClientConnection, key: Subscription, *, subscribe: bool) -> None:
        slot = (key, subscribe)
        future = self._pending.get(slot)
        if future is None or future.done():
            future = self._pending[slot] = asyncio.get_running_loop().create_future()
            message = subscription_message(
                self._approval_key or "", key[0], key[1], subscribe=subscribe, custtype=self.custtype
            )
            try:
                await ws.send(message)
            except ConnectionClosed:
                self._pending.pop(slot, None)
                raise KisWsClosed("connection closed while subscribing") from None
        try:
            await asyncio.wait_for(asyncio.shield(future), self.ack_timeout)
        except TimeoutError:
            self._pending.pop(slot, None)
            raise KisUnavailable(f"no answer to {'subscribe' if subscribe else 'unsubscribe'} {key}") from None

    # -- ticks ---------------------------------------------------------------------------------

    async def batches(self) -> AsyncIterator[list[Tick]]:
        """Ticks frame by frame (when no ``on_ticks`` callback was given)."""
        while True:
            yield await self._queue.get()

    async def coalesced(self, max_ticks: int = 5000) -> AsyncIterator[list[Tick]]:
        """Ticks of every frame queued so far in one list (at least one frame): a consumer that
        fell behind catches up in large steps instead of paying a round trip per frame."""
        while True:
            ticks = list(await self._queue.get())
            while len(ticks) < max_ticks and not self._queue.empty():
                ticks.extend(self._queue.get_nowait())
            yield ticks

    async def ticks(self) -> AsyncIterator[Tick]:
        async for batch in self.batches():
            for tick in batch:
                yield tick

    def _deliver(self, ticks: list[Tick]) -> None:
        if self._on_ticks is not None:
            try:
                self._on_ticks(ticks)
            except Exception:  # a consumer bug must not kill the feed
                log.exception("on_ticks callback failed")
            return
        try:
            self._queue.put_nowait(ticks)
        except asyncio.QueueFull:
            # A slow consumer loses the oldest ticks rather than stalling the reader (and missing PINGPONG).
            self._queue.get_nowait()
            self._queue.put_nowait(ticks)
            self._state.dropped_batches += 1

    # -- order books ---------------------------------------------------------------------------

    async def books(self) -> AsyncIterator[list[OrderBook]]:
        """Order books frame by frame (when no ``on_books`` callback was given)."""
        while True:
            yield await self._book_queue.get()

    def _deliver_books(self, books: list[OrderBook]) -> None:
        if self._on_books is not None:
            try:
                self._on_books(books)
            except Exception:  # a consumer bug must not kill the feed
                log.exception("on_books callback failed")
            return
        try:
            self._book_queue.put_nowait(books)
        except asyncio.QueueFull:  # only the newest book of a symbol matters: the oldest go
            self._book_queue.get_nowait()
            self._book_queue.put_nowait(books)
            self._state.dropped_batches += 1

    def _data_frame(self, raw: str, received: datetime) -> None:
        """A data frame to the tick or the order-book parser, by its TR id."""
        # "0|H0STASP0|001|...": the TR id read in place (frame_tr_id's split would copy every tick frame)
        if raw.startswith(endpoints.TR_ORDER_BOOK, 2):
            books = self.parser.parse_books(raw)
            if books:
                self._deliver_books([arrival_stamped(book, received) for book in books])
            return
        ticks = self.parser.parse(raw)
        if ticks:
            self._deliver(ticks)

    # -- the connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        fresh_approval = False
        while not self._closing.is_set():
            try:
                self._approval_key = await asyncio.to_thread(self._approval.approval_key, fresh_approval)
                fresh_approval = False
                async with connect(
                    self.url,
                    ping_interval=None,
                    open_timeout=self.open_timeout,
                    max_size=None,
                    close_timeout=2,
                    compression=None,
                ) as ws:
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except KisInvalidApproval as exc:
                fresh_approval = True
                self._note_error(exc)
            except (KisError, OSError, ConnectionClosed, TimeoutError) as exc:
                if not self._closing.is_set():
                    self._note_error(exc)
            except Exception as exc:  # never let the feed die silently
                log.exception("KIS WebSocket session failed")
                self._note_error(exc)
            finally:
                self._disconnected()
            if self._closing.is_set():
                break
            delay = backoff_delay(self._attempt, self.reconnect_initial, self.reconnect_max)
            self._attempt += 1
            log.info("KIS WebSocket reconnecting in %.2fs (attempt %d)", delay, self._attempt)
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
            except TimeoutError:
                pass

    def _note_error(self, exc: BaseException) -> None:
        self._state.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("KIS WebSocket: %s", self._state.last_error)
        self._touch()

    def _disconnected(self) -> None:
        if self._state.connected:
            self._state.disconnects += 1
        self._state.connected = False
        self._ws = None
        self._acked.clear()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(KisWsClosed("connection closed"))
                future.exception()  # mark retrieved: nobody may be waiting any more
        self._pending.clear()
        self._touch()

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._acked.clear()
        self._state.connected = True
        self._state.connects += 1
        self._state.connected_at = datetime.now(UTC)
        self._touch()
        reader = asyncio.create_task(self._read(ws), name="kis-ws-reader")
        try:
            await self._restore(ws, reader)
            self._attempt = 0  # a session that came up and restored resets the backoff
            await reader
        finally:
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, Exception):
                pass

    async def _restore(self, ws: ClientConnection, reader: asyncio.Task[None]) -> None:
        for key in list(self._wanted):
            if reader.done():
                return
            try:
                await self._request(ws, key, subscribe=True)
            except KisMaxSubscriptions as exc:
                self._wanted.pop(key, None)  # no room: give up this one rather than loop
                self._refused[key] = exc
                self._note_error(exc)
            except (KisAppKeyInUse, KisInvalidApproval, KisWsClosed):
                raise
            except KisWsError as exc:
                self._wanted.pop(key, None)
                self._refused[key] = exc
                self._note_error(exc)
            if self.send_interval:
                await asyncio.sleep(self.send_interval)
        if self._wanted:
            log.info("KIS WebSocket restored %d subscription(s)", len(self._acked))

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            if self.idle_timeout:
                try:
                    raw = await asyncio.wait_for(ws.recv(), self.idle_timeout)
                except TimeoutError:
                    raise KisUnavailable(f"no message for {self.idle_timeout}s") from None
            else:
                raw = await ws.recv()
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8", "replace")
            received = self._state.last_message_at = datetime.now(UTC)
            first = raw[:1]
            if first == "0" or first == "1":
                self._data_frame(raw, received)
            elif first == "{":
                await self._control(ws, raw)
            else:
                self.parser.stats.malformed_frames += 1
                log.warning("skipping unrecognised KIS message (%.60r)", raw)
            self._changed.set()  # counters moved: wake wait_until() callers

    async def _control(self, ws: ClientConnection, raw: str) -> None:
        try:
            msg = parse_control(raw)
        except MalformedFrame as exc:
            self.parser.stats.malformed_frames += 1
            log.warning("skipping malformed KIS control message: %s", exc.message)
            return
        if msg.is_pingpong:
            self._state.pingpongs += 1
            if self.pingpong_reply == "pong":
                await ws.pong(raw.encode())
            else:
                await ws.send(raw)
            return
        key = (msg.tr_id, msg.tr_key)
        if msg.key and msg.iv:
            self.parser.set_key(msg.tr_id, msg.key, msg.iv)
        if msg.is_unsubscribe:
            self._acked.discard(key)
            self._resolve((key, False), None if msg.ok else control_error(msg))
            self._touch()
            return
        if msg.ok:
            if key in self._wanted:
                self._acked.add(key)
            self._resolve((key, True), None)
        else:
            error = control_error(msg)
            if not self._resolve((key, True), error):
                self._note_error(error)
                if isinstance(error, KisAppKeyInUse | KisInvalidApproval):
                    raise error  # the session is useless: reconnect with backoff (fresh key if needed)
        self._touch()

    def _resolve(self, slot: tuple[Subscription, bool], error: KisWsError | None) -> bool:
        future = self._pending.pop(slot, None)
        if future is None:
            # Some error answers lack tr_key; with one request in flight it must be the one.
            candidates = [s for s in self._pending if s[1] == slot[1]]
            if error is not None and len(candidates) == 1:
                future = self._pending.pop(candidates[0])
        if future is None or future.done():
            return False
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
        return True
