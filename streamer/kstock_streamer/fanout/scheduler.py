"""When each connection's next call starts: now, when its window or back-off ends (one loop timer,
no task per waiting connection), or, for a batch connection with nothing new, when a tick of one
of its symbols wakes it. Also the owner of every background task of the fan-out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from kstock_streamer.fanout.connection import BATCH, Connection
from kstock_streamer.fanout.index import ConnectionIndex
from kstock_streamer.fanout.newest import NewestTicks


class Scheduler:
    def __init__(
        self, index: ConnectionIndex, newest: NewestTicks, drain: Callable[[Connection], Awaitable[None]]
    ) -> None:
        """``drain(conn)``: send what is due for ``conn`` (delivery); run when the scheduler says so."""
        self.index = index
        self.newest = newest
        self._drain = drain
        self._tasks: set[asyncio.Task[Any]] = set()

    def schedule(self, conn: Connection) -> None:
        """Start ``conn``'s calls now, set its timer, or let it sleep until a tick; nothing if busy."""
        if conn.busy or conn.gone or conn.timer is not None:
            return
        if conn.queue:
            due = conn.retry_at
        elif conn.mode == BATCH and self.newest.has_news(conn):
            due = max(conn.last_sent + conn.window, conn.retry_at)
        else:
            if conn.mode == BATCH:
                self.index.sleep(conn)
            return
        loop = asyncio.get_running_loop()
        if due <= loop.time():
            self._start(conn)
        else:
            conn.timer = loop.call_at(due, self._fire, conn)

    def wake(self, conn: Connection) -> None:
        """A tick for a sleeping batch connection."""
        self.index.wake(conn)
        self.schedule(conn)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` in the background, held (not garbage-collected) and cancelled on close."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def idle(self) -> bool:
        """No call out, no background task and no timer pending."""
        return not self._tasks and not any(conn.timer for conn in self.index.connections.values())

    @staticmethod
    def cancel_timer(conn: Connection) -> None:
        if conn.timer:
            conn.timer.cancel()
            conn.timer = None

    async def close(self) -> None:
        for conn in self.index.connections.values():
            self.cancel_timer(conn)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _fire(self, conn: Connection) -> None:
        conn.timer = None
        self.schedule(conn)

    def _start(self, conn: Connection) -> None:
        conn.busy = True
        self.spawn(self._run(conn))

    async def _run(self, conn: Connection) -> None:
        try:
            await self._drain(conn)
        finally:
            conn.busy = False
            if not conn.gone:
                self.schedule(conn)
