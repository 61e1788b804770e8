"""``kstock up``: the local stack in one process tree, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from infra.http_api import HttpApi
from kstock.config import get_settings, reload_settings
from kstock.embedded import ensure_services


def _prepare_database(database_url: str) -> None:
    from kstock import db
    from kstock.companies.reference import seed
    from kstock.db.migrate import migrate

    applied = migrate(database_url)
    print(f"[db] {len(applied)} migration(s) applied" if applied else "[db] schema up to date", flush=True)
    with db.connect(database_url) as conn:
        result = seed(conn)
    print(f"[db] reference data: {result.companies} companies, {result.indices} indices", flush=True)


async def _serve(api_port: int) -> None:
    settings = get_settings()
    api = HttpApi()
    runner = web.AppRunner(api.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.kstock_api_host, api_port)
    await site.start()
    print(f"\n  kstock is up\n  {'HTTP API':<12} http://{settings.kstock_api_host}:{api_port}\n"
          f"  {'health':<12} http://{settings.kstock_api_host}:{api_port}/health\n\n  Ctrl-C stops everything.\n",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        print("[up] stopping", flush=True)
        await runner.cleanup()
        api.close()


def run_stack(api_port: int | None = None) -> int:
    services = ensure_services()
    services.export_env()
    reload_settings()
    print(f"[up] postgres: {services.database_kind}, redis: {services.redis_kind}", flush=True)
    try:
        _prepare_database(services.database_url)
        asyncio.run(_serve(api_port or get_settings().kstock_api_port))
    finally:
        services.stop()
        print("[up] stopped", flush=True)
    return 0
