"""Helpers shared by the KIS tests: a simulator on free ports in a background thread, unique app keys."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from kstock.kis.auth import KisAuth, KisCredentials, MemoryTokenStore
from kstock.kis.rest import KisRestClient
from kstock_local.kis_sim import KisSimulator, SimulatorConfig, SimulatorThread

T = TypeVar("T")


def sim_config(**overrides) -> SimulatorConfig:
    """Free ports, a quiet market, PINGPONG effectively off unless a test asks for it."""
    values = dict(rest_port=0, ws_port=0, trades_per_second=50.0, pingpong_interval=3600.0, seed=1234)
    values.update(overrides)
    return SimulatorConfig(**values)


@contextlib.contextmanager
def running_simulator(**overrides) -> Iterator[SimulatorThread]:
    thread = SimulatorThread(sim_config(**overrides))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


def credentials() -> KisCredentials:
    """A fresh app key per test: the simulator keeps tokens, rate windows and sessions per key."""
    return KisCredentials(f"PS{uuid.uuid4().hex}{'0' * 36}"[:36], f"secret-{uuid.uuid4().hex}".ljust(180, "x"))


def rest_client(sim: KisSimulator, creds: KisCredentials | None = None, **kwargs) -> KisRestClient:
    kwargs.setdefault("store", MemoryTokenStore())
    kwargs.setdefault("rate_per_second", 200.0)
    return KisRestClient(sim.rest_url, creds or credentials(), **kwargs)


def auth(sim: KisSimulator, creds: KisCredentials | None = None, **kwargs) -> KisAuth:
    kwargs.setdefault("store", MemoryTokenStore())
    return KisAuth(creds or credentials(), sim.rest_url, **kwargs)


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """Run one async test body with an overall deadline."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def on_sim(thread: SimulatorThread, fn: Callable[[KisSimulator], T | Awaitable[T]]) -> T:
    """Call a simulator hook from async test code without blocking the test's event loop."""
    return await asyncio.to_thread(thread.call, fn)


@contextlib.contextmanager
def overridden(thread: SimulatorThread, **values) -> Iterator[None]:
    """Temporarily change simulator config knobs (tests run one at a time)."""
    config = thread.sim.config
    saved = {k: getattr(config, k) for k in values}
    for key, value in values.items():
        setattr(config, key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(config, key, value)


def forget_kis_tokens() -> None:
    """Drop cached KIS tokens and issue guards from Redis: a token one test module's simulator
    issued means nothing to the next module's simulator (and its guard would stall the next issue)."""
    from kstock import cache, keys

    client = cache.client()
    for key in client.scan_iter(keys.kis_token("*")):
        client.delete(key)
