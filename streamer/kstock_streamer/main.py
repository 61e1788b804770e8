"""``python -m kstock_streamer``: run the streamer until SIGTERM / Ctrl-C, with an HTTP health endpoint."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import redis.asyncio as aioredis
from aiohttp import web

from kstock import db, keys
from kstock.cache import redis_url
from kstock.config import get_settings
from kstock.eventloop import run_event_loop
from kstock.kis.auth import KisCredentials
from kstock.kis.connection import KisWebSocket
from kstock.kis.rest import KisRestClient
from kstock_streamer import sse
from kstock_streamer.service import Streamer, StreamerOptions, shared_slots


def health_app(streamer: Streamer) -> web.Application:
    async def health(_request: web.Request) -> web.Response:
        status = streamer.status()
        try:
            groups = await streamer.redis.xinfo_groups(keys.TICK_STREAM)
            status["streamLag"] = next((g.get("lag") for g in groups if g["name"] == keys.TICK_WRITER_GROUP), None)
        except Exception:  # health answers even when Redis does not
            status["streamLag"] = None
        healthy = bool(status["ok"])
        return web.json_response({"status": "ok" if healthy else "degraded", **status}, status=200 if healthy else 503)

    app = web.Application()
    app.router.add_get("/health", health)
    sse.add_routes(app, streamer.redis)  # GET /stream/stocks: live prices as Server-Sent Events (issue 18)
    return app


def _redis() -> aioredis.Redis:
    client: aioredis.Redis = aioredis.Redis.from_url(
        redis_url(), decode_responses=True, socket_connect_timeout=2, socket_timeout=10, health_check_interval=10
    )
    return client


async def _serve_http(app: web.Application) -> web.AppRunner:
    """``app`` on STREAMER_HEALTH_PORT: every interface in a container (the ALB, ECS health), loopback else."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host = "0.0.0.0" if os.environ.get("STREAMER_IN_CONTAINER") else "127.0.0.1"  # noqa: S104 - the container's port
    await web.TCPSite(runner, host, get_settings().streamer_health_port).start()
    return runner


async def run(stop: asyncio.Event, *, writer: bool = True) -> None:
    settings = get_settings()
    redis = _redis()
    rest = KisRestClient.from_settings()
    websocket = KisWebSocket.from_settings(rest.auth, send_interval=0.05 if settings.kis_env == "real" else 0.5)
    options = StreamerOptions.from_settings()
    options.run_writer = writer
    shared = None
    if len(KisCredentials.pool_from_settings(settings)) > 1:  # one of several KIS keys' ingest streamers
        shared = shared_slots(redis, options, settings.kis_key_index, settings.kis_slot_lease_seconds)
        if settings.kis_key_index > 0:  # key 0's streamer writes ticks, reconciles demand and fans out
            options.run_writer, options.fanout, options.reconcile = False, False, False
    streamer = Streamer(redis, db.database_url(), rest, websocket, options, shared=shared)
    await streamer.start()
    runner = await _serve_http(health_app(streamer))
    key = f" (app key {settings.kis_key_index} of several)" if shared is not None else ""
    print(
        f"streamer up: KIS {websocket.url}{key}, health http://127.0.0.1:{settings.streamer_health_port}/health",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        print("streamer stopping: releasing KIS subscriptions, flushing the writer", flush=True)
        await streamer.stop()
        await runner.cleanup()
        await redis.aclose()
        rest.close()
        print("streamer stopped", flush=True)


async def run_fanout_worker(stop: asyncio.Event) -> None:
    """One of K fan-out workers (``--role fanout``) and its HTTP port until ``stop``."""
    from kstock_streamer.fanout.worker import FanoutWorker
    from kstock_streamer.fanout.worker import health_app as worker_health_app

    redis = _redis()
    worker = FanoutWorker(redis)
    await worker.start()
    runner = await _serve_http(worker_health_app(worker))
    port = get_settings().streamer_health_port
    print(f"fan-out worker {worker.worker_id} up: health http://127.0.0.1:{port}/health", flush=True)
    try:
        await stop.wait()
    finally:
        print(f"fan-out worker {worker.worker_id} stopping", flush=True)
        await worker.stop()
        await runner.cleanup()
        await redis.aclose()
        print(f"fan-out worker {worker.worker_id} stopped", flush=True)


async def run_writer_only(stop: asyncio.Event) -> None:
    """Only the tick writer: the stream -> Postgres (a second container when one is not enough)."""
    from kstock_streamer.writer import TickWriter

    redis = aioredis.Redis.from_url(redis_url(), decode_responses=True, socket_connect_timeout=2, socket_timeout=10)
    writer = TickWriter(
        redis, db.database_url(), consumer=f"writer-{os.getpid()}", batch=get_settings().tick_writer_batch
    )
    task = asyncio.create_task(writer.run())
    print("tick writer up", flush=True)
    await stop.wait()
    writer.stop()
    await task
    await writer.drain()
    await writer.close()
    await redis.aclose()
    print("tick writer stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kstock_streamer", description="kstock's long-lived streamer")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-writer", action="store_true", help="ingest only; a separate writer persists ticks")
    mode.add_argument("--writer-only", action="store_true", help="only the tick writer (stream -> Postgres)")
    parser.add_argument(
        "--role",
        choices=("streamer", "fanout"),
        default="streamer",
        help="fanout: one of K WebSocket fan-out workers and nothing else (run the streamer with STREAMER_FANOUT=off)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=get_settings().log_level, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )

    async def entry() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.role == "fanout":
            await run_fanout_worker(stop)
        elif args.writer_only:
            await run_writer_only(stop)
        else:
            await run(stop, writer=not args.no_writer)

    run_event_loop(entry())
    return 0
