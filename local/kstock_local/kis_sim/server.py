"""The KIS simulator: REST + WebSocket servers on loopback plus the market that feeds them.

Programmatic use (``kstock up``, tests)::

    async with KisSimulator(SimulatorConfig(rest_port=0, ws_port=0)) as sim:
        sim.rest_url, sim.ws_url          # actual bound URLs
        await sim.drop_all_sockets()      # hooks for tests
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

from aiohttp import web

from kstock_local.kis_sim import persist
from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.kis_sim.market import Market
from kstock_local.kis_sim.rest import RestApi
from kstock_local.kis_sim.state import SimState, SimStats
from kstock_local.kis_sim.ws import WsServer

log = logging.getLogger("kstock_local.kis_sim")
T = TypeVar("T")


class KisSimulator:
    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        c = self.config
        self.market = Market(
            c.seed,
            always_open=c.always_open,
            trades_per_second=c.trades_per_second,
            history_days=c.history_days,
            surge_count=c.surge_count,
            regime_seconds=c.regime_seconds,
            elw_count=c.elw_count,
            clock=c.clock,
            universe=c.universe,
        )
        self.state = SimState()
        self.rest = RestApi(c, self.market, self.state)
        self.ws = WsServer(c, self.market, self.state)
        self._runners: list[web.AppRunner] = []
        self._publisher: asyncio.Task[None] | None = None
        self._saving: asyncio.Task[None] | None = None
        self.rest_port = c.rest_port
        self.ws_port = c.ws_port

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.config.state_file is not None:
            persist.restore(self.market, self.config.state_file)
        self.rest_port = await self._serve(self.rest.app(), self.config.rest_port)
        self.ws_port = await self._serve(self.ws.app(), self.config.ws_port)
        self._publisher = asyncio.create_task(self._publish_loop(), name="kis-sim-publisher")
        log.info("KIS simulator on %s and %s", self.rest_url, self.ws_url)

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, port)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])  # the bound port when 0 was asked

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            try:
                await self._publisher
            except asyncio.CancelledError:
                pass
            self._publisher = None
            if self._saving is not None:
                await asyncio.gather(self._saving, return_exceptions=True)
            self.save_state()
        await self.ws.drop_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> KisSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.rest_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.ws_port}"

    @property
    def stats(self) -> SimStats:
        return self.state.stats

    # -- the market clock ----------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        next_index = next_save = last
        while True:
            await asyncio.sleep(self.config.publish_interval)
            now = loop.time()
            dt, last = now - last, now
            try:
                trades = self.market.step(min(dt, 1.0))
                await self.ws.publish_trades(trades)
                refresh = now >= next_index  # indices and every subscribed book, once a second
                await self.ws.publish_books(trades, refresh=refresh)
                if refresh:
                    next_index = now + self.config.index_interval
                    await self.ws.publish_indices(sum(t.qty for t in trades))
                if now >= next_save:
                    next_save = now + self.config.state_save_interval
                    self._save_in_background()
            except Exception:  # the market must keep running whatever one step did
                log.exception("KIS simulator publish step failed")

    def save_state(self) -> None:
        """Keep the day's market in ``config.state_file`` (when set) for the next start."""
        if self.config.state_file is None:
            return
        try:
            persist.save(self.market, self.config.state_file)
        except OSError:
            log.exception("KIS simulator: cannot write %s", self.config.state_file)

    def _save_in_background(self) -> None:
        """The periodic save: the state taken here, encoded and written on a thread, so that the
        frames of the next interval are not held up (one save at a time)."""
        path = self.config.state_file
        if path is None or (self._saving is not None and not self._saving.done()):
            return
        self._saving = asyncio.create_task(asyncio.to_thread(persist.write, path, persist.snapshot(self.market)))
        self._saving.add_done_callback(_log_failure)

    # -- hooks for tests and benchmarks ----------------------------------------------------------

    async def drop_all_sockets(self) -> int:
        """Abort every WebSocket connection (clients see an abnormal close)."""
        return await self.ws.drop_all()

    async def send_raw(self, text: str) -> int:
        """Send a raw text frame to every WebSocket session."""
        return await self.ws.send_raw(text)

    async def emit_trades(self, symbol: str, count: int) -> int:
        """Trade ``symbol`` ``count`` times at once: subscribers get one multi-record frame."""
        trades = self.market.force_trades(symbol, count)
        await self.ws.publish_trades(trades)
        await self.ws.publish_books(trades)
        return len(trades)

    def expire_tokens(self) -> None:
        """Every issued access token is expired from now on (EGW00123)."""
        self.state.expire_tokens()

    def set_extra_fields(self, count: int) -> None:
        """Append ``count`` unknown fields to every record from now on (KIS layout drift)."""
        self.config.extra_fields = count

    @property
    def trades_published(self) -> int:
        return self.state.stats.records_sent


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("KIS simulator: saving the market failed: %s", task.exception())


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread, for synchronous callers and tests.

    ``call(fn)`` runs ``fn(sim)`` (a coroutine function or plain function) on the simulator's loop.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.sim = KisSimulator(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kis-sim", daemon=True)

    def start(self) -> KisSimulator:
        self._thread.start()
        self.run(self.sim.start())
        return self.sim

    def run(self, coro: Awaitable[T], timeout: float = 30.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def call(self, fn: Callable[[KisSimulator], T | Awaitable[T]], timeout: float = 30.0) -> T:
        async def invoke() -> T:
            result = fn(self.sim)
            return await result if asyncio.iscoroutine(result) else result  # type: ignore[return-value]

        return self.run(invoke(), timeout)

    def stop(self) -> None:
        try:
            self.run(self.sim.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> KisSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


async def serve_forever(
    config: SimulatorConfig, stop: asyncio.Event | None = None, ready: Callable[[KisSimulator], None] | None = None
) -> None:
    """Run until ``stop`` is set (``kstock sim-kis``)."""
    stop = stop or asyncio.Event()
    async with KisSimulator(config) as sim:
        if ready:
            ready(sim)
        started = time.monotonic()
        await stop.wait()
        log.info("KIS simulator ran %.0fs, %d records sent", time.monotonic() - started, sim.trades_published)
