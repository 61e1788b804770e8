"""Redis: one client per process (connection pooled), built from the configured URL."""

from __future__ import annotations

import threading

import redis

from kstock.config import MissingSetting, get_settings

_client: redis.Redis | None = None
_client_url: str | None = None
_lock = threading.Lock()


def redis_url() -> str:
    """The URL of the Redis this process uses (:class:`MissingSetting` when unset)."""
    settings = get_settings()
    if settings.redis_url is None:
        raise MissingSetting("REDIS_URL", "kstock needs Redis for live prices, caches and limits")
    return settings.redis_url.get_secret_value()


def client() -> redis.Redis:
    """The process-wide client (decoded strings); rebuilt if REDIS_URL changed."""
    global _client, _client_url
    url = redis_url()
    with _lock:
        if _client is None or _client_url != url:
            _client = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
            )
            _client_url = url
        return _client
