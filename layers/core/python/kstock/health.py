"""Liveness of the data stores, for ``GET /health``."""

from __future__ import annotations

import time
from typing import Literal

from kstock import __version__, cache, db
from kstock.config import get_settings
from kstock.logs import get_logger
from kstock.schemas import CamelModel

log = get_logger("kstock.health")


class DependencyHealth(CamelModel):
    ok: bool
    kind: Literal["embedded", "external"]
    version: str | None = None
    latency_ms: float | None = None
    error: str | None = None


class Health(CamelModel):
    status: Literal["ok", "degraded"]
    version: str
    environment: str
    postgres: DependencyHealth
    redis: DependencyHealth


def _probe(kind: str, check) -> DependencyHealth:
    started = time.perf_counter()
    try:
        version = check()
    except Exception as exc:  # a health check reports every failure, it never raises
        log.warning("health check failed", extra={"dependency_kind": kind, "error": type(exc).__name__})
        return DependencyHealth(ok=False, kind=kind, error=f"{type(exc).__name__}: unavailable")
    return DependencyHealth(ok=True, kind=kind, version=version,
                            latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _postgres_version() -> str:
    with db.transaction() as conn:
        return conn.execute("SHOW server_version").fetchone()["server_version"]


def _redis_version() -> str:
    client = cache.client()
    client.ping()
    return client.info("server")["redis_version"]


def check() -> Health:
    settings = get_settings()
    postgres = _probe("embedded" if settings.database_is_embedded else "external", _postgres_version)
    redis = _probe("embedded" if settings.redis_is_embedded else "external", _redis_version)
    return Health(
        status="ok" if postgres.ok and redis.ok else "degraded",
        version=__version__,
        environment=settings.kstock_env,
        postgres=postgres,
        redis=redis,
    )
