"""Delivery: one connection's queued messages and batch news, through ``POST @connections/{id}``.

Each connection has at most one call in flight (the scheduler starts ``drain`` only when it is not
busy), so its messages arrive in order; at most ``concurrency`` calls are out in all. A call is
SigV4-signed (:mod:`.signing`) and sent on the lean keep-alive client (:mod:`.poster`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from kstock_streamer.fanout import backoff, batches
from kstock_streamer.fanout.connection import BATCH, Connection
from kstock_streamer.fanout.newest import NewestTicks, News
from kstock_streamer.fanout.options import FanoutOptions, FanoutStats
from kstock_streamer.fanout.outcomes import FAILED, GONE, OK, THROTTLED, classify
from kstock_streamer.fanout.poster import Poster, PostError
from kstock_streamer.fanout.signers import Signers
from kstock_streamer.fanout.signing import SigV4Signer

log = logging.getLogger("kstock_streamer.fanout")

PostCall = Callable[[Connection, bytes], Awaitable[str]]  # (connection, body) -> outcome


class Delivery:
    def __init__(
        self,
        options: FanoutOptions,
        stats: FanoutStats,
        newest: NewestTicks,
        *,
        gone: Callable[[Connection], None],
        post: PostCall | None = None,
        signer: SigV4Signer | None = None,
    ) -> None:
        """``gone``: told of a connection API Gateway no longer knows. ``post``: what makes a call
        (default :meth:`call`, the network)."""
        self.options = options
        self.stats = stats
        self.newest = newest
        self._gone = gone
        self._post = post or self.call
        self._signers = Signers(options.region, signer)
        self._http = Poster(timeout=options.timeout)
        self._sem = asyncio.Semaphore(options.concurrency)
        self.in_flight = 0

    async def close(self) -> None:
        await self._http.close()

    async def drain(self, conn: Connection) -> None:
        """Send what waits for ``conn`` until nothing is due, it is backing off, or it is gone."""
        loop = asyncio.get_running_loop()
        while not conn.gone and loop.time() >= conn.retry_at:
            if conn.queue:
                if not await self._send_queued(conn):
                    return
                continue
            if conn.mode == BATCH and loop.time() >= conn.last_sent + conn.window:
                news = list(self.newest.news(conn))
                if news:
                    conn.last_sent = loop.time()
                    if not await self._send_batch(conn, news):
                        return
                    continue
            break

    async def _send_queued(self, conn: Connection) -> bool:
        """The message at the head of the queue; False when the connection is gone."""
        body = conn.queue[0]
        outcome = await self._post(conn, body)
        if outcome != OK:
            return self._failed(conn, outcome, give_up=_give_up_head)
        self._delivered(conn)
        if conn.queue and conn.queue[0] is body:  # not dropped for a newer one while the call was out
            conn.queue.popleft()
        self.stats.calls[conn.mode] += 1
        if body.startswith(b'{"type":"tick"'):
            self.stats.messages["tick"] += 1
        return True

    async def _send_batch(self, conn: Connection, news: list[News]) -> bool:
        """Post the newest ticks in messages under the frame limit; False when the connection is gone.
        What a failed call did not deliver stays news (or is replaced by a newer tick meanwhile)."""
        while news:
            parts = batches.take_frame(news)
            outcome = await self._post(conn, batches.encode(parts))
            if outcome != OK:
                self._failed(conn, outcome, give_up=_keep)
                return not conn.gone
            self._delivered(conn)
            self.stats.calls[BATCH] += 1
            self.stats.messages[BATCH] += len(parts)
            for symbol, number, _ in parts:
                if symbol in conn.symbols:  # not unsubscribed while the call was out
                    conn.sent[symbol] = max(conn.sent.get(symbol, 0), number)
        return True

    def _delivered(self, conn: Connection) -> None:
        backoff.succeeded(conn)
        self.stats.last_broadcast_at = time.time()

    def _failed(self, conn: Connection, outcome: str, give_up: Callable[[Connection], None]) -> bool:
        """Handle a call that did not deliver; False when the connection is gone."""
        if outcome == GONE:
            self._gone(conn)
            return False
        if outcome == THROTTLED:
            self.stats.throttled += 1
        else:
            self.stats.failed += 1
            if backoff.count_failure(conn, self.options.max_failures):
                give_up(conn)
        now = asyncio.get_running_loop().time()
        backoff.back_off(conn, now, self.options.backoff_initial, self.options.backoff_max)
        return True

    async def call(self, conn: Connection, body: bytes) -> str:
        """One signed ``POST`` to the connection; its outcome (OK, GONE, THROTTLED or FAILED)."""
        async with self._sem:
            self.in_flight += 1
            headers = self._signers.for_host(conn.host).headers("POST", conn.url, body)
            try:
                response = await self._http.post(conn.url, body, headers)
            except PostError as exc:
                log.debug("@connections call to %s failed: %s", conn.id, exc)
                return FAILED
            finally:
                self.in_flight -= 1
        if response.status < 300:
            return OK
        error = response.headers.get("x-amzn-errortype", "") or response.body.decode("utf-8", "replace")
        outcome = classify(response.status, error)
        if outcome == FAILED and self.stats.failed % 1000 == 0:
            log.warning("@connections answered %s for %s: %s", response.status, conn.id, error[:200])
        return outcome


def _give_up_head(conn: Connection) -> None:
    if conn.queue:
        conn.queue.popleft()


def _keep(conn: Connection) -> None:
    """Batch news is never given up: the newest tick of each symbol is what is sent on resume."""
