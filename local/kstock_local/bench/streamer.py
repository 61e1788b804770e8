"""Streamer benchmarks, each on its own embedded servers in a temporary directory.

* ``kstock bench ingest``: the KIS simulator (child process, a 41-company universe so every trade
  is on a subscribed symbol) at a high rate -> the streamer (child process, ingest only) ->
  Redis. Prints ticks/s published (counted from the Redis stream the streamer appends to) and the
  streamer's peak RSS.
* ``kstock bench tick-writer``: a Redis stream pre-filled with frames of ticks -> the tick writer
  -> Postgres ``stock_ticks``. Prints rows/s committed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import redis

from kstock import keys
from kstock_local.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from kstock_local.kis_sim.credentials import simulator_environment


def _servers(home: Path, postgres: bool = True) -> tuple[EmbeddedRedis, EmbeddedPostgres | None, str | None]:
    cache = EmbeddedRedis(home / "redis", persist=False)
    cache.start()
    if not postgres:
        return cache, None, None
    from kstock.db.migrate import migrate

    database = EmbeddedPostgres(home / "pg", delete_on_stop=True)
    url = database.start()
    migrate(url)
    return cache, database, url


def _stream_ticks(client: redis.Redis) -> int:
    """Ticks appended to the stream so far (entries are frames; count their ticks)."""
    total, last = 0, "-"
    while True:
        entries: list[tuple[str, dict[str, str]]] = client.xrange(keys.TICK_STREAM, min=last, count=5000)  # type: ignore[assignment]
        if last != "-":
            entries = entries[1:]
        if not entries:
            return total
        total += sum(payload["t"].count('"type"') for _, payload in entries)
        last = entries[-1][0]


def bench_ingest(rate: float = 30_000, seconds: float = 10.0, warmup: float = 3.0) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kstock-bench-") as tmp:
        cache, database, url = _servers(Path(tmp))
        sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kstock_local.cli.main",
                "sim-kis",
                "--rest-port",
                "0",
                "--ws-port",
                "0",
                "--rate",
                str(rate),
                "--always-open",
                "--universe",
                "41",
                "--ready-json",
                "--rest-rate",
                "1000",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "LOG_LEVEL": "WARNING"},
        )
        streamer = None
        try:
            assert sim.stdout is not None  # piped
            urls = json.loads(sim.stdout.readline())
            client = redis.Redis.from_url(cache.url, decode_responses=True)
            from kstock.companies.reference import load_companies

            client.hset(keys.DEMAND, mapping={c.symbol: 1 for c in load_companies()[:41]})
            assert url is not None  # _servers started PostgreSQL
            env = {
                **os.environ,
                "REDIS_URL": cache.url,
                "DATABASE_URL": url,
                **simulator_environment(urls["rest_url"], urls["ws_url"]),  # never a real key against it
                "STREAMER_DEFAULT_SYMBOLS": "",
                "STREAMER_HEALTH_PORT": str(free_port()),
                "LOG_LEVEL": "WARNING",
                "KIS_REST_RATE_PER_SECOND": "100",
            }
            streamer = subprocess.Popen(
                [sys.executable, "-m", "kstock_streamer", "--no-writer"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            process = psutil.Process(streamer.pid)
            deadline = time.monotonic() + 60
            while _stream_ticks(client) == 0:
                if time.monotonic() > deadline or streamer.poll() is not None:
                    raise RuntimeError("the streamer published nothing")
                time.sleep(0.2)
            time.sleep(warmup)  # a benchmark window, not synchronisation
            peak_rss = 0
            cpu_before = sum(process.cpu_times()[:2])
            sim_process = psutil.Process(sim.pid)
            sim_cpu_before = sum(sim_process.cpu_times()[:2])
            before, started = _stream_ticks(client), time.monotonic()
            while time.monotonic() - started < seconds:
                peak_rss = max(peak_rss, process.memory_info().rss)
                time.sleep(0.1)
            published = _stream_ticks(client) - before
            elapsed = time.monotonic() - started
            cpu = (sum(process.cpu_times()[:2]) - cpu_before) / elapsed
            sim_cpu = (sum(sim_process.cpu_times()[:2]) - sim_cpu_before) / elapsed
        finally:
            for child in (streamer, sim):
                if child is not None:
                    child.terminate()
                    try:
                        child.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
            cache.stop()
            if database:
                database.stop()
    result = {
        "ticks_per_second": published / elapsed,
        "peak_rss_mb": peak_rss / 2**20,
        "streamer_cpu": cpu,
        "simulator_cpu": sim_cpu,
    }
    print(
        f"ingest: KIS simulator asked for {rate:,.0f} trades/s on 41 subscribed symbols -> streamer -> Redis, "
        f"{seconds:g}s after {warmup:g}s warm-up"
    )
    print(f"  published {result['ticks_per_second']:,.0f} ticks/s (each: PUBLISH + price key + stream)")
    print(
        f"  streamer peak RSS {result['peak_rss_mb']:.0f} MB; CPU: streamer {cpu:.0%} of a core, "
        f"simulator {sim_cpu:.0%} (2 cores in all, Redis on them too)"
    )
    print(
        f"  targets: >= 20,000 ticks/s {'met' if result['ticks_per_second'] >= 20_000 else 'NOT met'}; "
        f"RSS < 150 MB {'met' if result['peak_rss_mb'] < 150 else 'NOT met'}"
    )
    return result


def _fill(client: redis.Redis, rows: int, per_frame: int = 10) -> None:
    start = datetime.now(UTC) - timedelta(minutes=30)
    pipe = client.pipeline(transaction=False)
    for frame in range(rows // per_frame):
        ticks = []
        for i in range(per_frame):
            n = frame * per_frame + i
            moment = start + timedelta(microseconds=n * 20)
            ticks.append(
                {
                    "type": "tick",
                    "symbol": f"{n % 41:06d}",
                    "price": 70_000 + n % 500,
                    "volume": 1 + n % 50,
                    "accVolume": n,
                    "change": 100,
                    "changePercent": 0.14,
                    "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "source": "ws",
                }
            )
        pipe.xadd(keys.TICK_STREAM, {"t": json.dumps(ticks, separators=(",", ":"))})
        if frame % 1000 == 999:
            pipe.execute()
    pipe.execute()


def bench_tick_writer(rows: int = 500_000, batch: int = 5000) -> dict[str, float]:
    import redis.asyncio as aioredis

    from kstock_streamer.writer import TickWriter

    with tempfile.TemporaryDirectory(prefix="kstock-bench-") as tmp:
        cache, database, url = _servers(Path(tmp))
        assert database is not None and url is not None  # asked for PostgreSQL
        try:
            _fill(redis.Redis.from_url(cache.url, decode_responses=True), rows)

            async def run() -> tuple[int, float]:
                client = aioredis.Redis.from_url(cache.url, decode_responses=True)
                writer = TickWriter(client, url, batch=batch)
                await writer.ensure_group()
                await writer.step()  # warm: connection, partitions, temp table
                started = time.perf_counter()
                while await writer.step():
                    pass
                elapsed = time.perf_counter() - started
                await writer.close()
                await client.aclose()
                return writer.stats.rows, elapsed

            written, elapsed = asyncio.run(run())
        finally:
            cache.stop()
            database.stop()
    result = {"rows_per_second": written / elapsed, "rows": written}
    print(f"tick-writer: {rows:,} ticks in a Redis stream (10 per entry) -> COPY -> stock_ticks, batches of {batch}")
    print(
        f"  wrote {written:,} rows in {elapsed:.2f}s: {result['rows_per_second']:,.0f} rows/s "
        f"(target >= 50,000: {'met' if result['rows_per_second'] >= 50_000 else 'NOT met'})"
    )
    return result
