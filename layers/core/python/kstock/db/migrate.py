"""Versioned schema migrations (yoyo-migrations), tracked in the database itself.

Migrations are the SQL files in ``kstock/db/migrations`` applied in name order; yoyo records each
in its ``_yoyo_migration`` table, so running ``kstock migrate`` again applies only new files.
"""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _yoyo_url(database_url: str) -> str:
    # yoyo picks its driver from the scheme: psycopg 3 is "postgresql+psycopg".
    scheme, sep, rest = database_url.partition("://")
    if scheme in {"postgres", "postgresql"}:
        return f"postgresql+psycopg{sep}{rest}"
    return database_url


def migrate(database_url: str) -> list[str]:
    """Apply every pending migration; return the ids applied (empty when up to date)."""
    backend = get_backend(_yoyo_url(database_url))
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def applied(database_url: str) -> list[str]:
    """Ids of the migrations recorded as applied."""
    backend = get_backend(_yoyo_url(database_url))
    try:
        return [m.id for m in read_migrations(str(MIGRATIONS_DIR)) if backend.is_applied(m)]
    finally:
        backend.connection.close()
