"""PostgreSQL access: one connection pool per process, dict rows, explicit transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from kstock.config import MissingSetting, get_settings

# Every connection kstock opens returns rows as dicts; the alias says so to the type checker.
Connection = psycopg.Connection[DictRow]

_pool: ConnectionPool[Connection] | None = None
_pool_url: str | None = None
_lock = threading.Lock()


def database_url() -> str:
    """The URL of the database this process uses (:class:`MissingSetting` when unset)."""
    settings = get_settings()
    if settings.database_url is None:
        raise MissingSetting("DATABASE_URL", "kstock needs its PostgreSQL database")
    return settings.database_url.get_secret_value()


def connect(url: str | None = None, **kwargs: Any) -> Connection:
    """A new connection with dict rows (for scripts, migrations and long-lived workers)."""
    return psycopg.connect(url or database_url(), row_factory=dict_row, **kwargs)


def one_row(cursor: psycopg.Cursor[DictRow]) -> DictRow:
    """The row of a statement that always answers one (``INSERT ... RETURNING``, ``SHOW``, an aggregate)."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the statement answered no row")
    return row


def pool() -> ConnectionPool[Connection]:
    """The process-wide pool; recreated if DATABASE_URL changed (tests switch servers)."""
    global _pool, _pool_url
    url = database_url()
    with _lock:
        if _pool is None or _pool_url != url:
            if _pool is not None:
                _pool.close()
            _pool = ConnectionPool(
                url,
                connection_class=Connection,
                min_size=1,
                max_size=8,
                open=True,
                timeout=10,
                kwargs={"row_factory": dict_row},
                name="kstock",
            )
            _pool_url = url
        return _pool


@contextmanager
def transaction() -> Iterator[Connection]:
    """A pooled connection inside one transaction: committed on success, rolled back on error."""
    with pool().connection() as conn:
        yield conn


@contextmanager
def read() -> Iterator[Connection]:
    """A pooled connection in autocommit, for reads: each statement sees its own snapshot, and
    no BEGIN and COMMIT round trips double the cost of a one-query answer. Use
    :func:`transaction` when statements must agree with each other or anything is written."""
    with pool().connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            if not conn.closed:
                conn.autocommit = False


def close_pool() -> None:
    global _pool, _pool_url
    with _lock:
        if _pool is not None:
            _pool.close()
        _pool = _pool_url = None
