"""``kstock bench api``: the REST API under load, through the local HTTP API of the production
template, on its own stack (embedded PostgreSQL and Redis in a temporary directory, moto, the KIS
simulator, the local cloud on free ports) so it runs on a fresh machine.

Setup: migrate and seed, refresh market data from the simulator (market caps for the rankings),
and store one trading day of 1-minute bars (09:00-15:30 KST, 390 bars) for the largest companies.
Load: ``clients`` concurrent clients (a separate process, closed loop: each sends its next request
when the previous answer is read) over a mix of company search, company detail, OHLCV of that day
(when ``/companies/{companyId}/ohlcv`` is registered) and rankings. Prints p50/p95/p99 latency and
requests/s, overall and per kind; every non-2xx answer is counted as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kstock.eventloop import run_event_loop
from kstock.market.calendar import KST, is_trading_day, previous_trading_day
from kstock_local.embedded import EmbeddedPostgres, EmbeddedRedis, free_port, port_open
from kstock_local.kis_sim.credentials import simulator_environment
from kstock_local.paths import TEMPLATE_PATH
from kstock_local.settings import reload_local_settings
from kstock_local.signing import local_signing_key

if TYPE_CHECKING:
    from kstock_local.cloud.runtime import LocalCloud

OHLCV_ROUTE = "/companies/{companyId}/ohlcv"
KEYWORDS = [
    "삼성",
    "SK",
    "LG",
    "현대",
    "카카오",
    "005930",
    "000660",
    "네이버",
    "셀트리온",
    "기아",
    "포스코",
    "한화",
    "에코프로",
    "HD",
    "035720",
    "바이오",
    "전자",
    "화학",
    "금융",
    "KB",
]
MIX = {"search": 0.3, "detail": 0.3, "ohlcv": 0.2, "rankings": 0.2}
BAR_SYMBOLS = 40


@dataclass
class Plan:
    base: str
    company_ids: list[int]
    industry_ids: list[int]
    bar_companies: list[int]
    day: date
    ohlcv: bool


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _request(plan: Plan, rng: random.Random) -> tuple[str, str]:
    kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    if kind == "ohlcv" and not plan.ohlcv:
        kind = "rankings"
    if kind == "search":
        return kind, f"/companies?keyword={rng.choice(KEYWORDS)}&size=20"
    if kind == "detail":
        return kind, f"/companies/{rng.choice(plan.company_ids)}"
    if kind == "ohlcv":
        start = datetime.combine(plan.day, clock(9), tzinfo=KST).isoformat()
        end = datetime.combine(plan.day, clock(15, 30), tzinfo=KST).isoformat()
        return kind, (
            f"/companies/{rng.choice(plan.bar_companies)}/ohlcv?interval=1m"
            f"&start={start.replace('+', '%2B')}&end={end.replace('+', '%2B')}"
        )
    choice = rng.random()
    if choice < 0.5:
        return kind, f"/rankings/companies?page={rng.randint(1, 3)}&size=20"
    if choice < 0.75:
        return kind, "/rankings/industries?size=20"
    return kind, f"/rankings/industries/{rng.choice(plan.industry_ids)}/companies?size=20"


async def _load(
    plan: Plan, clients: int, seconds: float, warmup: float, seed: int, rate: float | None
) -> dict[str, Any]:
    import aiohttp

    results: list[tuple[str, float, int]] = []
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        measure_from = started + warmup
        stop_at = measure_from + seconds

        # With a rate, each client paces itself to rate/clients requests per second (a request
        # that falls behind goes out at once); without one, each sends as soon as it has an answer.
        interval = clients / rate if rate else 0.0

        async def client(n: int) -> None:
            rng = random.Random(seed * 1000 + n)
            due = started + rng.uniform(0, interval)
            while True:
                now = time.perf_counter()
                if interval and due > now:
                    await asyncio.sleep(due - now)
                    now = time.perf_counter()
                due += interval
                if now >= stop_at:
                    return
                kind, path = _request(plan, rng)
                sent = time.perf_counter()
                try:
                    async with session.get(plan.base + path) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                done = time.perf_counter()
                if sent >= measure_from and done <= stop_at:
                    results.append((kind, done - sent, status))

        await asyncio.gather(*(client(n) for n in range(clients)))
    return {"results": results, "seconds": seconds}


def _client_process(
    plan: Plan, clients: int, seconds: float, warmup: float, seed: int, rate: float | None, queue: Any
) -> None:
    queue.put(asyncio.run(_load(plan, clients, seconds, warmup, seed, rate)))


def _report(
    results: list[tuple[str, float, int]], seconds: float, clients: int, plan: Plan, rate: float | None
) -> dict[str, float]:
    latencies = [r[1] * 1000 for r in results]
    errors = [r for r in results if not 200 <= r[2] < 300]
    figures = {
        "requests": len(results),
        "rps": len(results) / seconds,
        "p50": _percentile(latencies, 50),
        "p95": _percentile(latencies, 95),
        "p99": _percentile(latencies, 99),
        "errors": len(errors),
    }
    pacing = f"paced to {rate:g} req/s in all" if rate else "closed loop, no think time"
    print(f"api: {clients} concurrent clients ({pacing}), {seconds:g} s measured, local HTTP API of template.yaml")
    print(
        f"  mix: {', '.join(f'{k} {v:.0%}' for k, v in MIX.items())}"
        + ("" if plan.ohlcv else f"  (OHLCV left out: {OHLCV_ROUTE} is not registered; its share goes to rankings)")
    )
    print(
        f"  all       {figures['requests']:>7,} requests  {figures['rps']:>8,.0f} req/s   "
        f"p50 {figures['p50']:6.1f} ms   p95 {figures['p95']:6.1f} ms   p99 {figures['p99']:6.1f} ms   "
        f"errors {figures['errors']}"
    )
    for kind in MIX:
        mine = [r[1] * 1000 for r in results if r[0] == kind]
        if mine:
            print(
                f"  {kind:<9} {len(mine):>7,} requests  {len(mine) / seconds:>8,.0f} req/s   "
                f"p50 {_percentile(mine, 50):6.1f} ms   p95 {_percentile(mine, 95):6.1f} ms   "
                f"p99 {_percentile(mine, 99):6.1f} ms   mean {statistics.fmean(mine):6.1f} ms"
            )
    if errors:
        statuses: dict[int, int] = {}
        for r in errors:
            statuses[r[2]] = statuses.get(r[2], 0) + 1
        print(f"  error statuses: {statuses}")
    print(f"  target p95 < 25 ms: {'met' if figures['p95'] < 25 else 'NOT met'}")
    return figures


def _insert_day_of_bars(url: str, symbols: list[str], day: date, seed: int = 11) -> None:
    import psycopg

    rng = random.Random(seed)
    rows = []
    for symbol in symbols:
        price = rng.randint(5_000, 300_000)
        moment = datetime.combine(day, clock(9), tzinfo=KST)
        for _ in range(390):
            step = price * rng.uniform(-0.002, 0.002)
            open_, close = price, max(1, round(price + step))
            high, low = max(open_, close) + rng.randint(0, 50), max(1, min(open_, close) - rng.randint(0, 50))
            volume = rng.randint(100, 50_000)
            rows.append((symbol, moment, open_, high, low, close, volume, volume * close, rng.randint(5, 200)))
            price, moment = close, moment + timedelta(minutes=1)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ohlcv_1m (symbol, bucket, open, high, low, close, volume, amount, trade_count) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            rows,
        )


def _bench_day(today: date) -> date:
    return today if is_trading_day(today) else previous_trading_day(today)


def bench_api(
    clients: int = 50,
    seconds: float = 20.0,
    warmup: float = 3.0,
    workers: int = 4,
    seed: int = 7,
    rate: float | None = None,
) -> dict[str, float]:
    """Start the stack, load it, print and return the figures."""
    from kstock_local.cloud.runtime import LocalCloud, Ports
    from kstock_local.kis_sim.config import SimulatorConfig
    from kstock_local.kis_sim.server import SimulatorThread

    with tempfile.TemporaryDirectory(prefix="kstock-bench-api-") as tmp:
        home = Path(tmp)
        postgres = EmbeddedPostgres(home / "pg", delete_on_stop=True)
        redis_server = EmbeddedRedis(home / "redis", persist=False)
        moto = None
        saved = dict(os.environ)
        try:
            urls = {"DATABASE_URL": postgres.start(), "REDIS_URL": redis_server.start()}
            os.environ.update(urls, KSTOCK_HOME=str(home), LOG_LEVEL="WARNING", KSTOCK_EMBEDDED="postgres,redis")
            from kstock.config import reload_settings

            reload_settings()
            reload_local_settings()
            from kstock import db
            from kstock.companies.reference import seed as seed_reference
            from kstock.db.migrate import migrate

            migrate(urls["DATABASE_URL"])
            with db.connect(urls["DATABASE_URL"]) as conn:
                seed_reference(conn)
            print(
                "api bench: stack ready (embedded PostgreSQL + Redis); refreshing market data from the simulator",
                flush=True,
            )
            with SimulatorThread(
                SimulatorConfig(rest_port=0, ws_port=0, trades_per_second=0, rest_rate_per_second=1000)
            ) as sim:
                # never a real key against the simulator; the functions below inherit these
                os.environ.update(simulator_environment(sim.rest_url, sim.ws_url), KIS_REST_RATE_PER_SECOND="500")
                reload_settings()
                from kstock.kis.rest import KisRestClient
                from kstock.marketdata import refresh

                with KisRestClient.from_settings() as client:
                    refresh.refresh(client, batch_size=1000)
            with db.connect(urls["DATABASE_URL"]) as conn:
                top = conn.execute(
                    "SELECT id, symbol FROM companies ORDER BY market_cap DESC NULLS LAST, id LIMIT %s", (BAR_SYMBOLS,)
                ).fetchall()
                company_ids = [r["id"] for r in conn.execute("SELECT id FROM companies").fetchall()]
                industry_ids = [r["id"] for r in conn.execute("SELECT id FROM industries").fetchall()]
            day = _bench_day(datetime.now(KST).date())
            _insert_day_of_bars(urls["DATABASE_URL"], [r["symbol"] for r in top], day)
            db.close_pool()

            moto_port = free_port()
            moto = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 30
            while not port_open("127.0.0.1", moto_port):
                if time.monotonic() > deadline:
                    raise RuntimeError("moto did not start")
                time.sleep(0.05)
            # the limiter runs (its Redis round trip is part of every request) but never refuses here
            os.environ["RATE_LIMIT_REQUESTS"] = "1000000000"
            reload_settings()
            env = {
                **urls,
                "JWT_SECRET": local_signing_key(),
                "RATE_LIMIT_REQUESTS": "1000000000",
                "LOG_LEVEL": "WARNING",
            }
            cloud = LocalCloud(
                TEMPLATE_PATH,
                f"http://127.0.0.1:{moto_port}",
                env,
                ports=Ports(http=free_port(), websocket=free_port()),
                concurrency=workers,
                # schedules and queue pollers would compete with the measured requests for the two cores
                serve_events=False,
            )
            return run_event_loop(
                _measure(
                    cloud, company_ids, industry_ids, [r["id"] for r in top], day, clients, seconds, warmup, seed, rate
                )
            )
        finally:
            if moto is not None:
                moto.terminate()
                moto.wait(timeout=10)
            os.environ.clear()
            os.environ.update(saved)
            redis_server.stop()
            postgres.stop()


async def _measure(
    cloud: LocalCloud,
    company_ids: list[int],
    industry_ids: list[int],
    bar_companies: list[int],
    day: date,
    clients: int,
    seconds: float,
    warmup: float,
    seed: int,
    rate: float | None,
) -> dict[str, Any]:
    import aiohttp

    await cloud.start()
    try:
        base = cloud.http_url
        async with aiohttp.ClientSession() as session:
            # every registered route is in the document: is the lead's OHLCV route there yet?
            async with session.get(f"{base}/openapi.json") as response:
                ohlcv = OHLCV_ROUTE in (await response.json())["paths"]
        plan = Plan(base, company_ids, industry_ids, bar_companies, day, ohlcv)
        print(
            f"api bench: local cloud on {base} ({cloud.concurrency} API worker processes); "
            f"{len(bar_companies)} companies with 390 1-minute bars on {day}; {clients} clients for "
            f"{warmup:g} s warm-up + {seconds:g} s",
            flush=True,
        )
        queue = multiprocessing.get_context("spawn").Queue()
        process = multiprocessing.get_context("spawn").Process(
            target=_client_process, args=(plan, clients, seconds, warmup, seed, rate, queue)
        )
        process.start()
        outcome = await asyncio.to_thread(queue.get, True, warmup + seconds + 120)
        await asyncio.to_thread(process.join, 10)
        figures = _report(outcome["results"], outcome["seconds"], clients, plan, rate)
    finally:
        await cloud.stop()
    figures.update(_in_process(plan, seed))
    return figures


def _in_process(plan: Plan, seed: int, requests: int = 2000) -> dict[str, float]:
    """The same mix through the handler in this process, one at a time: the app's own time per
    request, without the local gateway and its process hop."""
    from urllib.parse import parse_qsl, urlsplit

    from kstock_local.cloud.gateway.http_api import build_proxy_event
    from kstock_local.cloud.lambdas.runtime import LambdaContext, load_handler

    handler = load_handler("app.app")
    rng = random.Random(seed)
    timings: dict[str, list[float]] = {}
    for n in range(requests + 200):
        kind, path = _request(plan, rng)
        parts = urlsplit(path)
        event = build_proxy_event("GET", parts.path, parse_qsl(parts.query), [], b"", "127.0.0.1", "bench")
        started = time.perf_counter()
        handler(event, LambdaContext(function_name="ApiFunction"))
        if n >= 200:  # the first ones warm pools and caches
            timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
    every = [t for values in timings.values() for t in values]
    print(
        f"  in-process handler (no gateway, one request at a time, {requests} requests): "
        f"p50 {_percentile(every, 50):.2f} ms   p95 {_percentile(every, 95):.2f} ms   "
        f"p99 {_percentile(every, 99):.2f} ms   ("
        + ", ".join(f"{k} p50 {_percentile(v, 50):.2f}" for k, v in timings.items())
        + ")"
    )
    return {"handler_p50": _percentile(every, 50), "handler_p95": _percentile(every, 95)}


def add_api_bench(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kstock bench api`` (called from kstock_local.cli.kis, next to the other benches)."""

    def run(args: argparse.Namespace) -> int:
        bench_api(
            clients=args.clients,
            seconds=args.seconds,
            warmup=args.warmup,
            workers=args.workers,
            seed=args.seed,
            rate=args.rate,
        )
        return 0

    api = bench_sub.add_parser("api", help="REST API under load (search, detail, OHLCV, rankings): p50/p95/p99, req/s")
    api.add_argument("--clients", type=int, default=50, help="concurrent clients (closed loop)")
    api.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    api.add_argument("--warmup", type=float, default=3.0, help="load before measuring")
    api.add_argument("--workers", type=int, default=4, help="ApiFunction worker processes (Lambda instances)")
    api.add_argument("--seed", type=int, default=7, help="request mix seed")
    api.add_argument(
        "--rate",
        type=float,
        default=None,
        help="total requests/s the clients pace themselves to (default: as fast as answers come)",
    )
    api.set_defaults(func=run)
