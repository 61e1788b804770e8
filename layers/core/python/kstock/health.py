"""What ``GET /health`` tells: the data stores, the streamer and (on a laptop) the first market load.

The streamer is a separate process; it writes its status to Redis every second (``streamer:status``).
A status that is missing, older than ``HEALTH_STREAMER_MAX_AGE_SECONDS`` or that names a failing part
(KIS ingest disconnected, the KIS feed stalled: no frame and no PINGPONG for ``KIS_STALL_SECONDS``,
the fan-out restarting, a task failing again and again) makes the answer
503 "degraded" and says which part, so a user's dead live prices never hide behind a green check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal, cast

from kstock import __version__, cache, db, keys
from kstock.config import get_settings
from kstock.logs import get_logger
from kstock.realtime.kis_sessions import key_sessions, slots_over_keys
from kstock.schemas import CamelModel

log = get_logger("kstock.health")


class DependencyHealth(CamelModel):
    ok: bool
    kind: Literal["embedded", "external"]
    version: str | None = None
    latency_ms: float | None = None
    error: str | None = None


class StreamerHealth(CamelModel):
    ok: bool
    state: Literal["ok", "degraded", "stale", "missing", "unknown"]
    problems: list[str] = []
    age_seconds: float | None = None
    kis_connected: bool | None = None
    kis_source: Literal["kis", "simulated"] | None = None  # "simulated": prices come from kstock's KIS simulator
    kis_stalled: bool | None = None  # issue 17: connected, but nothing arrives
    kis_silent_seconds: float | None = None
    fanout_running: bool | None = None
    publish_rate_per_second: float | None = None
    writer_lag_seconds: float | None = None
    slots_used: int | None = None


class MarketLoad(CamelModel):
    """The local stack's first load of daily history and market data."""

    state: Literal["loading", "loaded"]
    done: int = 0
    total: int = 0
    phase: str | None = None


class Health(CamelModel):
    status: Literal["ok", "degraded", "starting"]
    version: str
    environment: str
    problems: list[str] = []
    postgres: DependencyHealth
    redis: DependencyHealth
    streamer: StreamerHealth
    market: MarketLoad | None = None


def _probe(kind: Literal["embedded", "external"], check: Callable[[], str]) -> DependencyHealth:
    started = time.perf_counter()
    try:
        version = check()
    except Exception as exc:  # a health check reports every failure, it never raises
        log.warning("health check failed", extra={"dependency_kind": kind, "error": type(exc).__name__})
        return DependencyHealth(ok=False, kind=kind, error=f"{type(exc).__name__}: unavailable")
    return DependencyHealth(
        ok=True, kind=kind, version=version, latency_ms=round((time.perf_counter() - started) * 1000, 2)
    )


def _postgres_version() -> str:
    with db.transaction() as conn:
        return str(db.one_row(conn.execute("SHOW server_version"))["server_version"])


def _redis_version() -> str:
    client = cache.client()
    client.ping()
    # redis-py types every command as ``Awaitable | Any`` (one signature for the sync and async
    # clients); this sync client answers the dict itself.
    return str(cast(dict[str, Any], client.info("server"))["redis_version"])


def streamer_health(
    raw: str | None, now: float, max_age: float, other_keys: list[dict[str, Any]] | None = None
) -> StreamerHealth:
    """Judge the streamer from the status it last wrote (``raw``, JSON or None); ``other_keys``: the
    statuses of the further KIS keys' streamers, whose slots count too."""
    if raw is None:
        return StreamerHealth(ok=False, state="missing", problems=["streamer: no status in Redis (not running?)"])
    status: dict[str, Any] = json.loads(raw)
    age = max(0.0, now - float(status.get("reportedAt") or 0))
    feed: dict[str, Any] = status.get("kisFeed") or {}  # absent: the streamer does not watch its feed
    figures = dict(
        age_seconds=round(age, 1),
        kis_connected=status.get("kisConnected"),
        kis_source=status.get("kisSource") if status.get("kisSource") in ("kis", "simulated") else None,
        kis_stalled=feed["state"] == "stalled" if "state" in feed else None,
        kis_silent_seconds=feed.get("silentSeconds"),
        fanout_running=status.get("fanoutRunning"),
        publish_rate_per_second=status.get("publishRatePerSecond"),
        writer_lag_seconds=status.get("writerLagSeconds"),
        slots_used=slots_over_keys([status, *(other_keys or [])]).get("slotsUsed"),
    )
    if age > max_age:
        return StreamerHealth(ok=False, state="stale", problems=[f"streamer: status is {age:.0f}s old"], **figures)
    problems = [f"streamer: {p}" for p in status.get("problems") or []]
    return StreamerHealth(ok=not problems, state="degraded" if problems else "ok", problems=problems, **figures)


def _read_redis_state(redis_ok: bool) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    if not redis_ok:
        return None, None, []
    client = cache.client()
    streamer, market = cast(list[str | None], client.mget([keys.STREAMER_STATUS, keys.MARKET_LOAD]))
    return streamer, market, key_sessions(client)


def check() -> Health:
    settings = get_settings()
    postgres = _probe("embedded" if settings.database_is_embedded else "external", _postgres_version)
    redis = _probe("embedded" if settings.redis_is_embedded else "external", _redis_version)
    try:
        raw_streamer, raw_market, sessions = _read_redis_state(redis.ok)
    except Exception as exc:  # Redis went away between the probe and the read
        log.warning("health state unreadable", extra={"error": type(exc).__name__})
        raw_streamer, raw_market, sessions, redis = None, None, [], redis.model_copy(update={"ok": False})
    if redis.ok:
        streamer = streamer_health(raw_streamer, time.time(), settings.health_streamer_max_age_seconds, sessions)
    else:
        streamer = StreamerHealth(ok=False, state="unknown", problems=["streamer: unknown (Redis is down)"])
    market = MarketLoad.model_validate_json(raw_market) if raw_market else None

    problems = [f"{name}: unavailable" for name, dep in (("postgres", postgres), ("redis", redis)) if not dep.ok]
    if settings.health_requires_streamer:
        problems += streamer.problems
    if market is not None and market.state == "loading":
        problems.append(f"market: loading history and market data ({market.done}/{market.total})")
    status: Literal["ok", "degraded", "starting"] = "ok"
    if problems:
        only_loading = all(p.startswith("market:") for p in problems)
        status = "starting" if only_loading else "degraded"
    return Health(
        status=status,
        version=__version__,
        environment=settings.kstock_env,
        problems=problems,
        postgres=postgres,
        redis=redis,
        streamer=streamer,
        market=market,
    )
