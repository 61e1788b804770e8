"""Run a real streamer (KIS simulator over real sockets, real Redis and Postgres) on a background loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import redis.asyncio as aioredis

from kstock.kis.auth import KisCredentials, MemoryTokenStore
from kstock.kis.connection import KisWebSocket
from kstock.kis.rest import KisRestClient
from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.kis_sim.server import SimulatorThread
from kstock_streamer.service import Streamer, StreamerOptions, shared_slots

T = TypeVar("T")


def simulator(rate: float = 200.0, **kw: Any) -> SimulatorThread:
    return SimulatorThread(SimulatorConfig(rest_port=0, ws_port=0, trades_per_second=rate, **kw))


class StreamerThread:
    """A Streamer on its own event loop in a daemon thread; ``run`` executes coroutines there."""

    def __init__(
        self,
        sim_rest_url: str,
        sim_ws_url: str,
        redis_url: str,
        database_url: str,
        options: StreamerOptions,
        *,
        credentials: KisCredentials | None = None,
        key_index: int | None = None,
        lease_seconds: float = 10.0,
    ) -> None:
        """``credentials`` default to one app key for every streamer of the session (with a token store per
        simulator); ``key_index`` makes it one of several KIS keys' ingest streamers (:mod:`kstock_streamer.slots`)."""
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._args = (sim_rest_url, sim_ws_url, redis_url, database_url, options)
        self._credentials = credentials or KisCredentials("simulator-app-key", "simulator-app-secret")
        self._key_index, self._lease_seconds = key_index, lease_seconds
        self.streamer: Streamer | None = None

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _build(self) -> Streamer:
        rest_url, ws_url, redis_url, database_url, options = self._args
        credentials = self._credentials
        # One token for every streamer of one simulator, as KIS allows an app key one issue a minute. Not one
        # for the whole session: a token the previous module's simulator issued means nothing to this one
        # (EGW00123), and its re-issue waited out that minute, so REST calls (polls, snapshots) stalled
        # for up to 60 s at the start of the next streamer module.
        store = MemoryTokenStore.for_app(f"{credentials.app_id}@{rest_url}@{ws_url}")
        rest = KisRestClient(rest_url, credentials, rate_per_second=50, store=store)
        websocket = KisWebSocket(ws_url, rest.auth, reconnect_initial=0.05, reconnect_max=0.5)
        redis = aioredis.Redis.from_url(redis_url, decode_responses=True, socket_connect_timeout=1, socket_timeout=5)
        shared = None if self._key_index is None else shared_slots(redis, options, self._key_index, self._lease_seconds)
        streamer = Streamer(redis, database_url, rest, websocket, options, shared=shared)
        await streamer.start()
        return streamer

    def __enter__(self) -> Streamer:
        self._thread.start()
        self.streamer = self.run(self._build())
        return self.streamer

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.streamer.stop(), timeout=45)  # stop() bounds each phase; ~30 s at worst
            self.run(self.streamer.redis.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
