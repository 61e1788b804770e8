"""``kstock bench fanout --scenario tick|batch``: the whole live-price path, one process per part.

    KIS simulator -> streamer (ingest + fan-out) -> Redis -> fan-out -> local gateway @connections
    -> 1,000 WebSocket clients

Processes: moto (DynamoDB), the simulator (``--universe 50``, 50 WebSocket slots per session so
no symbol falls back to REST polling; real KIS would need a second session for that), the local
cloud (template.yaml's WebSocket API, its handlers and ``@connections``), the streamer
(``python -m kstock_streamer --no-writer``, fan-out on), the clients, and this driver.

Latency is measured from the simulator's trade to client receipt on one clock (``time.time()``,
one machine): KIS ticks carry second-resolution KST times, so the driver holds its own KIS
WebSocket session to the simulator (the "observer", another app key, subscribed to the same 50
symbols) and stamps each trade record when its frame arrives. The simulator sends a frame to
every session in the same loop turn, so the stamp is within microseconds of the streamer's
receipt: the figures are trade publication -> client, including the streamer's parsing. A
record is identified by (symbol, accVolume, occurrence); accVolume grows with every trade.

* ``tick``: latency of every delivered tick, and ticks lost (a trade a subscriber never got);
* ``batch``: staleness: for every trade and every subscriber of its symbol, how long until the
  client held that trade's price or a newer one; lost = never.

The ``@connections`` call ratio comes from the streamer's own counters (calls made / messages
one per tick would have needed) over the measured window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import psutil

from kstock import keys
from kstock.eventloop import run_event_loop
from kstock_local.embedded import EmbeddedPostgres, EmbeddedRedis, free_port, port_open
from kstock_local.kis_sim.credentials import simulator_environment

if TYPE_CHECKING:
    import aiohttp

    from kstock.kis.connection import KisWebSocket
    from kstock.kis.models import Tick

T = TypeVar("T")


@dataclass(frozen=True)
class Scenario:
    clients: int
    symbols: int
    per_client: int
    rate: float
    mode: str
    window_ms: int | None = None


SCENARIOS = {
    "tick": Scenario(clients=1000, symbols=50, per_client=1, rate=100, mode="tick"),
    "batch": Scenario(clients=1000, symbols=50, per_client=5, rate=2000, mode="batch", window_ms=250),
}

JWT_SECRET = "bench-only-signing-key-not-a-secret"


def _wait(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _calibrated_rate(rate: float) -> float:
    """The simulator's ``--rate`` that trades ``rate`` records/s now: its always-open market follows
    a U-shaped intraday profile (0.5x-2x) by the KST time of day, which this undoes."""
    from datetime import UTC, datetime

    from kstock.market.calendar import KST
    from kstock_local.kis_sim.market import SESSION_SECONDS, Market

    local = datetime.now(UTC).astimezone(KST)
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return rate / Market.profile((seconds % SESSION_SECONDS) / SESSION_SECONDS)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the observer: the driver's own KIS session, stamping every trade record ---------------------------


class Observer:
    def __init__(self, rest_url: str, ws_url: str, symbols: list[str]) -> None:
        self.rest_url, self.ws_url, self.symbols = rest_url, ws_url, symbols
        self.records: list[tuple[float, str, int]] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.websocket: KisWebSocket | None = None

    def _on_ticks(self, ticks: list[Tick]) -> None:
        now = time.time()
        self.records.extend((now, t.symbol, t.acc_volume) for t in ticks)

    async def _start(self) -> None:
        from kstock.kis.auth import KisAuth, KisCredentials, MemoryTokenStore
        from kstock.kis.connection import KisWebSocket

        credentials = KisCredentials("bench-observer-app-key", "bench-observer-app-secret")
        auth = KisAuth(credentials, self.rest_url, store=MemoryTokenStore())
        websocket = KisWebSocket(
            self.ws_url, auth, max_subscriptions=len(self.symbols), on_ticks=self._on_ticks, idle_timeout=None
        )
        self.websocket = websocket  # set before starting, so stop() closes a half-started session
        await websocket.start()
        for symbol in self.symbols:
            await websocket.subscribe("H0STCNT0", symbol)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(60)

    def stop(self) -> None:
        if self.websocket is not None:
            asyncio.run_coroutine_threadsafe(self.websocket.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


# -- child processes ----------------------------------------------------------------------------------


def _spawn(
    args: list[str], env: dict[str, str], stdin: int | None = None, log: Path | None = None
) -> subprocess.Popen[str]:
    """A child; ``log``: its output goes to that file (a pipe nobody reads would block it once full)."""
    if log is None:
        return subprocess.Popen(
            args, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=stdin, text=True
        )
    with log.open("w") as out:  # the child keeps its own descriptor
        return subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, text=True)


def _complaints(logs: list[Path], most: int = 3) -> list[str]:
    """The last warnings and errors the logged children wrote."""
    found = []
    for path in logs:
        lines = [line.rstrip() for line in path.read_text(errors="replace").splitlines()]
        bad = [line for line in lines if " WARNING " in line or " ERROR " in line or "Traceback" in line]
        found += [f"{path.stem}: {line[:200]}" for line in bad[-most:]]
    return found


def _ready_line(proc: subprocess.Popen[str], what: str, timeout: float = 180) -> str:
    stdout = proc.stdout
    assert stdout is not None, "_spawn always pipes stdout"
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        raise RuntimeError(f"{what} did not start (exit code {proc.poll()})")
    return result[0]


def _stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _rss(pid: int, children: bool = False) -> float:
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        if children:
            total += sum(c.memory_info().rss for c in process.children(recursive=True))
        return total / 2**20
    except psutil.Error:
        return 0.0


def _cpu(pid: int, children: bool = False) -> float:
    """CPU seconds used so far by a process (and its children)."""
    try:
        process = psutil.Process(pid)
        members = [process, *(process.children(recursive=True) if children else [])]
        return sum(sum(m.cpu_times()[:2]) for m in members)
    except psutil.Error:
        return 0.0


COUNTERS = ("gone", "throttled", "failed", "dropped", "queued", "subscriptions", "connections", "rebalances")


def combined(statuses: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """The fan-out statuses of ``workers`` workers as one: counters summed, ready when every worker is
    and each knows it is one of ``workers``."""
    fanouts = [s.get("fanout") or {} for s in statuses]
    total: dict[str, Any] = {
        "ready": len(fanouts) == workers
        and all(f.get("ready") and (f.get("partition") or {}).get("count", 1) == workers for f in fanouts),
        "calls": {"tick": 0, "batch": 0},
        "oneByOne": {"tick": 0, "batch": 0},
        **dict.fromkeys(COUNTERS, 0),
    }
    for fanout in fanouts:
        for name in ("calls", "oneByOne"):
            for mode, value in (fanout.get(name) or {}).items():
                total[name][mode] = total[name].get(mode, 0) + value
        for name in COUNTERS:
            total[name] += fanout.get(name) or 0
    return total


class Statuses:
    """What the streamer and the fan-out workers report in Redis (``workers`` 0: the streamer's fan-out)."""

    def __init__(self, r: Any, workers: int) -> None:
        self.r, self.workers = r, workers

    def streamer(self) -> dict[str, Any]:
        raw = cast(str | None, self.r.get(keys.STREAMER_STATUS))  # a sync client, decode_responses=True
        return json.loads(raw) if raw else {}

    def fanout(self) -> dict[str, Any]:
        if not self.workers:
            return combined([self.streamer()], 1)
        found = []
        for worker in self.r.zrange(keys.FANOUT_WORKERS, 0, -1):
            raw = cast(str | None, self.r.get(keys.fanout_worker_status(worker)))
            if raw:
                found.append(json.loads(raw))
        return combined(found, self.workers)

    def fresh_after(self, t: float) -> bool:
        """Every reporter wrote its status after ``t``."""
        if not self.workers:
            return bool(self.streamer().get("reportedAt", 0) > t)
        reported = [
            cast(str | None, self.r.get(keys.fanout_worker_status(w)))
            for w in self.r.zrange(keys.FANOUT_WORKERS, 0, -1)
        ]
        return len(reported) == self.workers and all(raw and json.loads(raw)["reportedAt"] > t for raw in reported)


def bench_fanout(
    scenario_name: str = "tick",
    seconds: float = 10.0,
    clients: int | None = None,
    seed: int = 6,
    workers: int = 1,
    rate: float | None = None,
) -> dict[str, Any]:
    """One run. ``workers``: fan-out worker processes (``--role fanout``) beside an ingest-only streamer;
    0 runs the fan-out inside the streamer (one process, as before issue 18's scale-out)."""
    scenario = SCENARIOS[scenario_name]
    if clients or rate:
        scenario = Scenario(
            clients or scenario.clients,
            scenario.symbols,
            scenario.per_client,
            rate or scenario.rate,
            scenario.mode,
            scenario.window_ms,
        )
    from kstock.companies.reference import load_companies

    symbols = [c.symbol for c in load_companies()[: scenario.symbols]]
    procs: dict[str, subprocess.Popen[str]] = {}
    observer: Observer | None = None
    with tempfile.TemporaryDirectory(prefix="kstock-bench-fanout-") as tmp:
        cache = EmbeddedRedis(Path(tmp) / "redis", persist=False)
        cache.start()
        # The handlers read Postgres: $connect checks every token against revoked_tokens (issue 17)
        # and a subscribe refuses symbols the companies table does not list. Without a database
        # each connect waits out the pool's timeout and is refused.
        database = EmbeddedPostgres(Path(tmp) / "pg", delete_on_stop=True)
        try:
            from kstock.companies.reference import seed as seed_reference
            from kstock.db import connect
            from kstock.db.migrate import migrate

            database_url = database.start()
            migrate(database_url)
            with connect(database_url) as conn:
                seed_reference(conn)
            import redis

            r = redis.Redis.from_url(cache.url, decode_responses=True)
            moto_port = free_port()
            procs["moto"] = _spawn(  # kstock up's moto: DynamoDB thread-safe, transactions without table copies
                [sys.executable, "-m", "kstock_local.cloud.moto_server", "-H", "127.0.0.1", "-p", str(moto_port)], {}
            )
            _wait(lambda: port_open("127.0.0.1", moto_port), 30, "moto")
            endpoint = f"http://127.0.0.1:{moto_port}"
            quiet = {
                "LOG_LEVEL": "WARNING",
                "REDIS_URL": cache.url,
                "JWT_SECRET": JWT_SECRET,
                "DATABASE_URL": "postgresql://bench:unused@127.0.0.1:1/unused",
                "KSTOCK_ENV": "test",
            }
            procs["simulator"] = _spawn(
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
                    f"{_calibrated_rate(scenario.rate):.1f}",
                    "--always-open",
                    "--universe",
                    str(scenario.symbols),
                    "--max-subscriptions",
                    str(scenario.symbols),
                    "--ready-json",
                    "--rest-rate",
                    "1000",
                    "--pingpong-interval",
                    "3600",
                ],
                quiet,
            )
            urls = json.loads(_ready_line(procs["simulator"], "the simulator"))
            procs["cloud"] = _spawn(
                [sys.executable, "-m", "kstock_local.bench.fanout", "cloud", "--endpoint", endpoint],
                {**quiet, "DATABASE_URL": database_url},
            )
            ws_url = json.loads(_ready_line(procs["cloud"], "the local cloud"))["ws_url"]
            # The clients connect and subscribe first, the streamer starts after: its fan-out then
            # builds its index from the registry (the restart path, at scale), and the set-up's load
            # on this small machine leaves no backlog behind to distort the measurement.
            plan = _plan(scenario, symbols, seed)
            plan_path = Path(tmp) / "plan.json"
            plan_path.write_text(json.dumps(plan))
            out_path = Path(tmp) / "received.json"
            procs["clients"] = _spawn(
                [
                    sys.executable,
                    "-m",
                    "kstock_local.bench.fanout",
                    "clients",
                    "--ws-url",
                    ws_url,
                    "--plan",
                    str(plan_path),
                    "--out",
                    str(out_path),
                ],
                quiet,
                stdin=subprocess.PIPE,
            )
            setup_started = time.monotonic()
            setup_cpu = {name: _cpu(proc.pid, name == "cloud") for name, proc in procs.items()}
            _ready_line(procs["clients"], "the clients", timeout=900)
            connect_seconds = time.monotonic() - setup_started
            _subscribe_in_bulk(plan, endpoint)
            setup_seconds = time.monotonic() - setup_started
            # what the set-up was waiting on: each $connect is 3 DynamoDB requests (the per-user limit's Query
            # and BatchGet, one BatchWriteItem of META and mirror) served one at a time by moto
            setup_cpu = {
                name: round(100 * (_cpu(proc.pid, name == "cloud") - setup_cpu[name]) / setup_seconds)
                for name, proc in procs.items()
            }
            streamer_env = {
                **quiet,
                **simulator_environment(urls["rest_url"], urls["ws_url"]),  # never a real key against it
                "KIS_WS_MAX_SUBSCRIPTIONS": str(scenario.symbols),
                "KIS_REST_RATE_PER_SECOND": "100",
                "STREAMER_DEFAULT_SYMBOLS": ",".join(symbols),
                "STREAMER_HEALTH_PORT": str(free_port()),
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "STREAMER_FANOUT": "off" if workers else "on",
            }
            logs = [Path(tmp) / "streamer.log", *(Path(tmp) / f"fanout-{i + 1}.log" for i in range(workers))]
            procs["streamer"] = _spawn(
                [sys.executable, "-m", "kstock_streamer", "--no-writer"], streamer_env, log=logs[0]
            )
            for i in range(workers):  # K fan-out workers, each on its own health port
                procs[f"fanout-{i + 1}"] = _spawn(
                    [sys.executable, "-m", "kstock_streamer", "--role", "fanout"],
                    {**streamer_env, "STREAMER_HEALTH_PORT": str(free_port())},
                    log=logs[i + 1],
                )
            reports = Statuses(r, workers)
            wanted = scenario.clients * scenario.per_client
            _wait(lambda: reports.streamer().get("slotsUsed") == len(symbols), 90, "the streamer's 50 KIS slots")
            _wait(lambda: reports.fanout()["ready"], 90, f"the fan-out ready ({workers or 'in the streamer'})")
            _wait(
                lambda: reports.fanout()["subscriptions"] >= wanted,
                30,
                "every subscription in the rebuilt fan-out index",
            )
            observer = Observer(urls["rest_url"], urls["ws_url"], symbols)
            observer.start()
            time.sleep(3.0)  # warm-up
            try:
                _wait(
                    lambda: reports.fanout()["queued"] <= scenario.clients // 20,
                    60,
                    "the fan-out to catch up after the set-up",
                    interval=0.5,
                )
            except RuntimeError:  # more offered than it posts: measure it saturated, and say so
                print(f"  (the fan-out never caught up: {reports.fanout()['queued']} queued; measuring it saturated)")
            cpu_before = {name: _cpu(proc.pid, name == "cloud") for name, proc in procs.items()}
            before, t0 = reports.fanout(), time.time()
            queued_at_start = before["queued"]
            peaks: dict[str, float] = {}
            while time.time() < t0 + seconds:
                for name, proc in procs.items():
                    peaks[name] = max(peaks.get(name, 0.0), _rss(proc.pid, children=name == "cloud"))
                peaks["driver"] = max(peaks.get("driver", 0.0), _rss(os.getpid()))
                time.sleep(0.5)
            t1 = time.time()
            cpu = {
                name: round(100 * (_cpu(proc.pid, name == "cloud") - cpu_before[name]) / (t1 - t0))
                for name, proc in procs.items()
            }
            _wait(lambda: reports.fresh_after(t1), 10, "a fresh status")
            after = reports.fanout()
            time.sleep(2.0)  # deliveries in flight at t1 arrive
            commands = procs["clients"].stdin
            assert commands is not None, "the clients are spawned with stdin=PIPE"
            commands.write("stop\n")
            commands.flush()
            _ready_line(procs["clients"], "the clients' results", timeout=120)
            received = json.loads(out_path.read_text())
            observer.stop()
            records, observer = list(observer.records), None
            complaints = _complaints(logs)
        finally:
            if observer is not None:
                observer.stop()
            for name in ("clients", *(f"fanout-{i + 1}" for i in range(workers)), "streamer", "cloud", "simulator"):
                _stop(procs.get(name))
            _stop(procs.get("moto"))
            cache.stop()
            database.stop()
    result = _analyse(scenario, plan, received, records, t0, t1, before, after)
    result.update(
        workers=workers,
        rate=scenario.rate,
        setup_seconds=round(setup_seconds, 1),
        connect_seconds=round(connect_seconds, 1),
        rss_mb={k: round(v) for k, v in peaks.items()},
        queued_at_end=after.get("queued"),
        queued_at_start=queued_at_start,
        cpu_percent=cpu,
        setup_cpu_percent=setup_cpu,
        rebalances=after["rebalances"] - before["rebalances"],
        complaints=complaints,
    )
    _print(scenario_name, scenario, seconds, result)
    return result


def _plan(scenario: Scenario, symbols: list[str], seed: int) -> list[dict[str, Any]]:
    os.environ["JWT_SECRET"] = JWT_SECRET
    from kstock.auth import tokens
    from kstock.config import reload_settings

    reload_settings()
    rng = random.Random(seed)
    plan = []
    for i in range(scenario.clients):
        if scenario.per_client == 1:
            wanted = [symbols[i % len(symbols)]]
        else:
            wanted = rng.sample(symbols, scenario.per_client)
        message: dict[str, Any] = {"action": "subscribe", "symbols": wanted, "mode": scenario.mode}
        if scenario.window_ms:
            message["windowMs"] = scenario.window_ms
        plan.append({"token": tokens.issue(100_000 + i), "subscribe": message})
    return plan


def _subscribe_in_bulk(plan: list[dict[str, Any]], endpoint: str) -> None:
    """Every client's subscription, written to the registry in batch writes.

    Not through the subscribe handler: it writes a transaction per symbol (the ``META`` condition,
    issue 17), and moto's TransactWriteItems deep-copies every table on each call (quadratic in
    the registry's size, and racy under its threaded server: 500s "dictionary changed size").
    The fan-out does not care how the rows got there: it starts after the set-up and rebuilds
    its index from the registry (the restart path). The plan's subscribe messages give the symbols.
    """
    from kstock.auth import tokens
    from kstock.config import reload_settings
    from kstock.realtime import registry

    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
    reload_settings()
    wanted = {tokens.decode(entry["token"]).user_id: entry["subscribe"]["symbols"] for entry in plan}
    first = plan[0]["subscribe"]
    found = registry.bulk_subscribe(wanted, mode=first["mode"], window_ms=first.get("windowMs"))
    if len(found) != len(wanted):
        raise RuntimeError(f"{len(wanted) - len(found)} bench clients have no live connection in the registry")


# -- analysis -------------------------------------------------------------------------------------------


def _analyse(
    scenario: Scenario,
    plan: list[dict[str, Any]],
    received: list[list[list[Any]]],
    records: list[tuple[float, str, int]],
    t0: float,
    t1: float,
    before: dict[str, Any],
    after: dict[str, Any],
) -> dict[str, Any]:
    # the observer's records per symbol: (time, accVolume, occurrence) in feed order
    trades: dict[str, list[tuple[float, int, int]]] = {}
    seen: dict[tuple[str, int], int] = {}
    for t, symbol, acc in records:
        k = seen.get((symbol, acc), 0)
        seen[(symbol, acc)] = k + 1
        trades.setdefault(symbol, []).append((t, acc, k))
    delays: list[float] = []
    lost = expected = 0
    messages = ticks = 0
    for entry, got in zip(plan, received, strict=True):
        mine: dict[str, list[tuple[float, int]]] = {}
        for t, kind, symbol, acc in got:
            if t0 <= t <= t1:
                messages += kind in ("m", "t")
                ticks += kind in ("t", "b")
            if symbol:
                mine.setdefault(symbol, []).append((t, acc))
        for symbol in entry["subscribe"]["symbols"]:
            receipts = mine.get(symbol, [])
            window = [(t, acc, k) for t, acc, k in trades.get(symbol, []) if t0 <= t <= t1]
            expected += len(window)
            if scenario.mode == "tick":
                counts: dict[int, int] = {}
                at: dict[tuple[int, int], float] = {}
                for t, acc in receipts:
                    k = counts.get(acc, 0)
                    counts[acc] = k + 1
                    at[(acc, k)] = t
                for t, acc, k in window:
                    arrival = at.get((acc, k))
                    if arrival is None:
                        lost += 1
                    else:
                        delays.append(max(0.0, arrival - t))
            else:
                j = 0
                for t, acc, _ in window:  # staleness: until the client holds this price or a newer one
                    while j < len(receipts) and receipts[j][1] < acc:
                        j += 1
                    if j == len(receipts):
                        lost += 1
                    else:
                        delays.append(max(0.0, receipts[j][0] - t))
    span = t1 - t0
    mode = scenario.mode
    calls = after["calls"][mode] - before["calls"][mode]
    one_by_one = after["oneByOne"][mode] - before["oneByOne"][mode]
    return {
        "trades_per_s": round(sum(1 for v in trades.values() for t, _, _ in v if t0 <= t <= t1) / span),
        "messages_per_s": round(messages / span),
        "ticks_per_s": round(ticks / span),
        "expected": expected,
        "lost": lost,
        "p50_ms": round(_percentile(delays, 0.5) * 1000, 1),
        "p99_ms": round(_percentile(delays, 0.99) * 1000, 1),
        "max_ms": round(max(delays, default=float("nan")) * 1000, 1),
        "calls": calls,
        "one_by_one": one_by_one,
        "calls_per_tick_delivery": round(calls / one_by_one, 4) if one_by_one else None,
        "gone": after["gone"] - before["gone"],
        "throttled": after["throttled"] - before["throttled"],
        "failed": after["failed"] - before["failed"],
        "dropped": after["dropped"] - before["dropped"],
    }


def _print(name: str, scenario: Scenario, seconds: float, result: dict[str, Any]) -> None:
    what = "latency" if scenario.mode == "tick" else "staleness"
    window = f", window {scenario.window_ms} ms" if scenario.window_ms else ""
    print(
        f"fan-out bench '{name}': {scenario.clients} clients x {scenario.per_client} of {scenario.symbols} symbols, "
        f"{scenario.mode} mode{window}, simulator {scenario.rate:g} trades/s, {seconds:g}s measured, "
        f"fan-out {_workers_label(result['workers'])} "
        f"(setup {result['setup_seconds']}s, {result['connect_seconds']}s of it connecting)"
    )
    print(f"  trades observed          {result['trades_per_s']}/s")
    print(f"  delivered                {result['messages_per_s']} messages/s carrying {result['ticks_per_s']} ticks/s")
    print(
        f"  {what:<24} p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms "
        f"(trade -> client, {result['expected']} trade x subscriber pairs)"
    )
    print(f"  lost                     {result['lost']}")
    print(
        f"  @connections calls       {result['calls']} for {result['one_by_one']} one-by-one deliveries "
        f"= {result['calls_per_tick_delivery']} per tick delivery"
    )
    print(
        f"  410 / throttled / failed {result['gone']} / {result['throttled']} / {result['failed']}, "
        f"dropped {result['dropped']}, queued at the start {result['queued_at_start']}, "
        f"at the end {result['queued_at_end']}"
    )
    print(f"  rebalances while measuring {result['rebalances']} (fan-out workers joining or leaving)")
    for line in result["complaints"]:
        print(f"  log: {line}")
    rss = ", ".join(f"{k} {v} MB" for k, v in result["rss_mb"].items())
    print(f"  peak RSS                 {rss} (cloud includes its function workers)")
    setup = ", ".join(f"{k} {v}%" for k, v in result["setup_cpu_percent"].items())
    print(f"  CPU during set-up        {setup} (connects, then the registry's batch writes)")
    cpu = ", ".join(f"{k} {v}%" for k, v in result["cpu_percent"].items())
    print(f"  CPU while measuring      {cpu} (of {psutil.cpu_count()} cores)")


def _workers_label(workers: int) -> str:
    return f"{workers} worker process{'es' if workers > 1 else ''}" if workers else "inside the streamer"


def print_side_by_side(results: list[dict[str, Any]]) -> None:
    """Runs with different worker counts, one column each: delivered messages/s, staleness, lost, CPU."""
    width = 22
    heads = [_workers_label(r["workers"]) for r in results]
    rows: list[tuple[str, list[str]]] = [
        ("delivered messages/s", [str(r["messages_per_s"]) for r in results]),
        ("ticks/s in them", [str(r["ticks_per_s"]) for r in results]),
        ("trades observed/s", [str(r["trades_per_s"]) for r in results]),
        ("p50 / p99 ms", [f"{r['p50_ms']} / {r['p99_ms']}" for r in results]),
        ("lost pairs", [f"{r['lost']} of {r['expected']}" for r in results]),
        ("dropped (queue full)", [str(r.get("dropped", "-")) for r in results]),
        ("queued start / end", [f"{r.get('queued_at_start', '-')} / {r.get('queued_at_end', '-')}" for r in results]),
        ("set-up s (connecting)", [f"{r['setup_seconds']} ({r['connect_seconds']})" for r in results]),
    ]
    names = sorted({name for r in results for name in r["cpu_percent"]}, key=lambda n: (not n.startswith("f"), n))
    rows += [(f"CPU % {name}", [str(r["cpu_percent"].get(name, "-")) for r in results]) for name in names]
    base = results[0]["messages_per_s"] or 1
    rows.append(("messages/s vs first", [f"{r['messages_per_s'] / base:.2f}x" for r in results]))
    print(f"\nfan-out scale-out, side by side (CPU: % of one core, {psutil.cpu_count()} cores on this machine)")
    print(f"  {'':<24}" + "".join(f"{h:>{width}}" for h in heads))
    for label, values in rows:
        print(f"  {label:<24}" + "".join(f"{v:>{width}}" for v in values))


# -- the child processes' entry points ---------------------------------------------------------------------


async def _serve_cloud(endpoint: str, concurrency: int) -> None:
    from kstock_local.cloud.runtime import LocalCloud, Ports
    from kstock_local.paths import TEMPLATE_PATH

    env = {
        k: os.environ[k]
        for k in ("REDIS_URL", "DATABASE_URL", "JWT_SECRET", "LOG_LEVEL", "KSTOCK_ENV")
        if k in os.environ
    }
    cloud = LocalCloud(
        TEMPLATE_PATH, endpoint, env, ports=Ports(http=free_port(), websocket=free_port()), concurrency=concurrency
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await cloud.start()
    print(json.dumps({"ws_url": cloud.ws_url}), flush=True)
    await stop.wait()
    await cloud.stop()


async def _run_clients(ws_url: str, plan_path: Path, out_path: Path) -> None:
    import aiohttp

    plan = json.loads(plan_path.read_text())
    logs: list[list[tuple[float, str]]] = [[] for _ in plan]
    gate = asyncio.Semaphore(40)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    sockets = []

    async def read(ws: aiohttp.ClientWebSocketResponse, log: list[tuple[float, str]]) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                log.append((time.time(), message.data))

    async def client(i: int, entry: dict[str, Any]) -> asyncio.Task[None]:
        async with gate:
            for attempt in range(5):
                try:
                    ws = await session.ws_connect(f"{ws_url}?token={entry['token']}", max_msg_size=0, heartbeat=None)
                    break
                except aiohttp.ClientError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.5)
            sockets.append(ws)  # subscribed by the driver in bulk (_subscribe_in_bulk), not by a message
        return asyncio.create_task(read(ws, logs[i]))

    readers = await asyncio.gather(*(client(i, e) for i, e in enumerate(plan)))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for ws in sockets:
        await ws.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await session.close()
    out = []
    for log in logs:  # parsed after the measurement, not while receiving
        rows = []
        for t, text in log:
            message = json.loads(text)
            if message.get("type") == "tick":
                rows.append((t, "t", message["symbol"], message["accVolume"]))
            elif message.get("type") == "ticks":
                rows.append((t, "m", None, 0))
                rows.extend((t, "b", tick["symbol"], tick["accVolume"]) for tick in message["data"])
        out.append(rows)
    out_path.write_text(json.dumps(out))
    print("done", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kstock_local.bench.fanout")
    sub = parser.add_subparsers(dest="part", required=True)
    cloud = sub.add_parser("cloud")
    cloud.add_argument("--endpoint", required=True)
    # $connect environments: a connect mostly waits on Postgres and moto, so on a busy machine more
    # of them shorten the 1,000-client set-up (3: 125 s connecting at 98% CPU pressure)
    cloud.add_argument("--concurrency", type=int, default=6)
    clients = sub.add_parser("clients")
    clients.add_argument("--ws-url", required=True)
    clients.add_argument("--plan", type=Path, required=True)
    clients.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.part == "cloud":
        run_event_loop(_serve_cloud(args.endpoint, args.concurrency))
    else:
        run_event_loop(_run_clients(args.ws_url, args.plan, args.out))
    return 0


def add_fanout_bench(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def run(args: argparse.Namespace) -> int:
        try:
            counts = [int(part) for part in args.workers.split(",")]
        except ValueError:
            print(f"kstock bench fanout: --workers takes counts like 1 or 1,2, not {args.workers!r}", file=sys.stderr)
            return 2
        if any(count < 0 or count > 8 for count in counts):
            print("kstock bench fanout: --workers counts are 0 (inside the streamer) to 8", file=sys.stderr)
            return 2
        results = [
            bench_fanout(args.scenario, seconds=args.seconds, clients=args.clients, workers=count, rate=args.rate)
            for count in counts
        ]
        if len(results) > 1:
            print_side_by_side(results)
        return 0

    bench = bench_sub.add_parser(
        "fanout",
        help="simulator -> streamer -> Redis -> fan-out -> @connections -> "
        "1,000 WebSocket clients: messages/s, latency, lost, calls, RSS",
    )
    bench.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="tick",
        help="tick: 1,000 x 1 of 50 symbols at 100 trades/s; batch: 1,000 x 5 of 50 at 2,000 trades/s, 250 ms window",
    )
    bench.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    bench.add_argument("--clients", type=int, default=None, help="override the scenario's 1,000 clients")
    bench.add_argument(
        "--workers",
        default="1",
        help="fan-out worker processes beside an ingest-only streamer; 0: the fan-out inside the streamer; "
        "a list such as 1,2 runs each and prints them side by side",
    )
    bench.add_argument("--rate", type=float, default=None, help="override the scenario's simulator trades/s")
    bench.set_defaults(func=run)


if __name__ == "__main__":
    sys.exit(main())
