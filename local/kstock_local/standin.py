"""What every local stand-in server shares (Naver news, OpenDART): an aiohttp app on loopback with
its bound port, a thread to run it from synchronous code, and a serve-until-stopped loop.

A stand-in subclasses :class:`LoopbackServer` and builds its routes in ``app()``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Generic, Self, TypeVar

from aiohttp import web

log = logging.getLogger("kstock_local.standin")
T = TypeVar("T")


class LoopbackServer:
    """An aiohttp application served on ``host:port`` (port 0: any free one, read back once bound)."""

    name = "stand-in"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]  # the bound port when 0 was asked
        log.info("%s on %s", self.name, self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


S = TypeVar("S", bound=LoopbackServer)


class ServerThread(Generic[S]):
    """A server on its own event loop in a daemon thread, for synchronous callers and tests."""

    def __init__(self, server: S) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=server.name, daemon=True)

    def run(self, coroutine: Awaitable[T], timeout: float = 30.0) -> T:
        async def wrapped() -> T:
            return await coroutine

        future: Future[T] = asyncio.run_coroutine_threadsafe(wrapped(), self._loop)
        return future.result(timeout)

    def start(self) -> S:
        self._thread.start()
        self.run(self.server.start())
        return self.server

    def stop(self) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> S:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


async def serve_forever(server: S, stop: asyncio.Event | None = None, ready: Callable[[S], None] | None = None) -> None:
    """Serve until ``stop`` is set (the ``kstock sim-*`` commands)."""
    stop = stop or asyncio.Event()
    async with server:
        if ready:
            ready(server)
        await stop.wait()
