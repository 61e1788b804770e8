"""``kstock bench startup``: how long `kstock up` takes on a fresh home, as a newcomer runs it.

Runs ``kstock up`` with an environment stripped to PATH, HOME and LANG (free ports, an empty
KSTOCK_HOME) and prints, from the process start: the first /health answer, the first tick on a
WebSocket subscription, and the ready banner (market loaded); then a second start on the same
home, which skips the loading. This is where the start-up budget lives (the tests only wait on
conditions, never against a clock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests
import websockets

from kstock_local.newcomer import free_stack_ports, fresh_machine_environment

PASSWORD = "Bench#Start1"


def _until(condition: Callable[[], object], limit: float, interval: float = 0.2) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            if condition():
                return time.monotonic()
        except requests.RequestException:  # a stack busy loading the market may answer late: not yet
            pass
        time.sleep(interval)
    return None


def _answers(api: str) -> bool:
    try:
        requests.get(f"{api}/health", timeout=2)
        return True
    except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a slow first /health
        return False


def _ranked(api: str) -> bool:
    rows = requests.get(f"{api}/rankings/companies", timeout=10).json().get("data") or []
    caps = [r.get("marketCap") for r in rows[:20]]
    return len(caps) == 20 and all(caps) and caps == sorted(caps, reverse=True)


def _bars(api: str) -> int:
    found = requests.get(f"{api}/companies", params={"keyword": "005930"}, timeout=10).json().get("data") or []
    if not found:
        return 0
    bars = (
        requests.get(
            f"{api}/companies/{found[0]['companyId']}/ohlcv",
            timeout=10,
            params={"interval": "1d", "start": "2020-01-01T00:00:00Z"},
        )
        .json()
        .get("data")
        or []
    )
    return len(bars)


async def _first_tick(ws_url: str, token: str) -> None:
    async with websockets.connect(f"{ws_url}?token={token}", open_timeout=30) as socket:
        await socket.send(json.dumps({"action": "subscribe", "symbols": ["005930"]}))
        while json.loads(await socket.recv()).get("type") != "tick":
            pass


def _one_start(workdir: Path, home: Path, limit: float) -> dict[str, float | None]:
    ports = free_stack_ports()
    env = fresh_machine_environment(home, ports)
    api, ws = f"http://127.0.0.1:{ports['KSTOCK_API_PORT']}", f"ws://127.0.0.1:{ports['KSTOCK_WS_PORT']}/Prod"
    log = workdir / f"up-{uuid.uuid4().hex[:6]}.log"
    started = time.monotonic()
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("kstock")), "up"],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    figures: dict[str, float | None] = {}
    try:
        health = _until(lambda: _answers(api), limit)
        figures["health"] = health and health - started
        ranked = _until(lambda: _ranked(api), limit, interval=0.5)
        figures["caps ranked (after health)"] = ranked and health and ranked - health
        history = _until(lambda: _bars(api) >= 400, limit, interval=0.5)
        figures["005930 400+ daily bars (after health)"] = history and health and history - health
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        requests.post(
            f"{api}/users/signup",
            json={"email": email, "username": "b" + uuid.uuid4().hex[:8], "password": PASSWORD},
            timeout=60,
        )
        token = requests.post(f"{api}/users/login", json={"email": email, "password": PASSWORD}, timeout=60).json()[
            "accessToken"
        ]
        subscribed = time.monotonic()
        asyncio.run(asyncio.wait_for(_first_tick(ws, token), limit))
        figures["first tick (after subscribe)"] = time.monotonic() - subscribed
        ready = _until(lambda: "kstock is up" in log.read_text(errors="replace"), limit)
        figures["ready (market loaded)"] = ready and ready - started
    finally:
        process.send_signal(signal.SIGINT)
        stopping = time.monotonic()
        process.wait(timeout=120)
        figures["stop"] = time.monotonic() - stopping
    return figures


def bench_startup(limit: float) -> None:
    with tempfile.TemporaryDirectory(prefix="kstock-bench-startup-") as root:
        workdir, home = Path(root) / "work", Path(root) / "home"
        workdir.mkdir()
        home.mkdir()
        runs = {
            "first start (empty home)": _one_start(workdir, home, limit),
            "second start (same home)": _one_start(workdir, home, limit),
        }
    print("kstock up under env -i (seconds from the process start unless said)")
    for name, figures in runs.items():
        shown = ", ".join(f"{k} {v:.1f}" if v is not None else f"{k} -" for k, v in figures.items())
        print(f"  {name:<26} {shown}")


def add_startup_bench(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def run(args: argparse.Namespace) -> int:
        bench_startup(args.limit)
        return 0

    parser = bench_sub.add_parser("startup", help="kstock up on a fresh home: /health, first tick, ready, stop")
    parser.add_argument("--limit", type=float, default=900.0, help="give up on a step after this many seconds")
    parser.set_defaults(func=run)
