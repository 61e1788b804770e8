"""Revoked access tokens: Postgres is the record, Redis a cache in front of it.

Why a table of revoked ``jti`` and not a token version on the user row: logging out refuses the
one token presented (the contract), not every device of the user, and tokens already carry a
unique ``jti``. Redis caches only *revoked* answers: a cached "not revoked" could outlive a
revocation written while Redis was unreachable, and a Redis that restarts empty (or loses its
last second of AOF) must never make a revoked token work again. So every check of a token that
is not known revoked asks Postgres (a primary-key lookup).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from redis.exceptions import RedisError

from kstock import cache, db, keys
from kstock.logs import get_logger

log = get_logger("kstock.auth.revocations")


def _cached(token_id: str) -> bool:
    try:
        return bool(cache.client().exists(keys.revoked_token(token_id)))
    except RedisError:  # the cache is optional: Postgres answers
        return False


def _remember(token_id: str, expires_at: int) -> None:
    remaining = max(1, expires_at - int(time.time()))
    try:
        cache.client().set(keys.revoked_token(token_id), "1", ex=remaining)
    except RedisError as exc:
        log.warning("revocation cache unavailable", extra={"error": type(exc).__name__})


def is_revoked(token_id: str, expires_at: int) -> bool:
    """Whether the token ``token_id`` was revoked (Redis first, then Postgres, the record)."""
    if _cached(token_id):
        return True
    with db.read() as conn:
        row = conn.execute("SELECT 1 FROM revoked_tokens WHERE token_id = %s", (token_id,)).fetchone()
    if row is not None:
        _remember(token_id, expires_at)  # a Redis that came back empty learns it again
        return True
    return False


def revoke(token_id: str, user_id: int, expires_at: int) -> None:
    """Record the revocation durably, then cache it; expired records are dropped on the way."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO revoked_tokens (token_id, user_id, expires_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (token_id) DO NOTHING",
            (token_id, user_id, datetime.fromtimestamp(expires_at, UTC)),
        )
        # A JWT past its expiry is refused on its own: its record is dead weight.
        conn.execute("DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 minute'")
    _remember(token_id, expires_at)
