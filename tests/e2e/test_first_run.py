"""The main job on a fresh machine: `kstock up` with none of the developer's variables.

The stack runs under an environment stripped to PATH, HOME (a new empty directory) and LANG, plus
free ports: no AWS settings, no ~/.aws, no KIS key. A newcomer signs up and logs in over HTTP,
opens the WebSocket with the token, subscribes to 005930 and must receive ticks of the contract
shape. The first start must also fill the market: rankings with market caps, two years of daily
bars. Then Ctrl-C stops everything and leaves no port or process behind.

Every wait is a generous deadline on a condition, never a start-up budget: these tests must pass on
a busy machine (start-up speed is `kstock bench startup`'s business).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests
import websockets
from support.serverdirs import server_dir
from support.waiting import wait_for

from kstock_local.embedded import port_open
from kstock_local.newcomer import free_stack_ports, fresh_machine_environment

TICK_KEYS = {"type", "symbol", "price", "volume", "accVolume", "change", "changePercent", "timestamp", "source"}
PASSWORD = "Sturdy#Pass123"


@dataclass
class Stack:
    process: subprocess.Popen[str]
    ports: dict[str, int]
    home: Path
    workdir: Path
    log: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['KSTOCK_API_PORT']}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.ports['KSTOCK_WS_PORT']}/Prod"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(f"{self.api}{path}", params=params, timeout=10)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with server_dir("newcomer") as root:
        yield from _stack(root)


def _stack(root: Path) -> Iterator[Stack]:
    home, workdir = root / "home", root / "work"
    home.mkdir()
    workdir.mkdir()
    ports = free_stack_ports()
    log = root / "up.log"
    kstock = Path(sys.executable).with_name("kstock")
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(kstock), "up"],
            cwd=workdir,
            env=fresh_machine_environment(home, ports),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    stack = Stack(process, ports, home, workdir, log)
    try:
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()


def _answering(stack: Stack) -> bool:
    try:
        stack.get("/health")
        return True
    except requests.ConnectionError:
        assert stack.process.poll() is None, stack.output()[-4000:]
        return False


def _healthy(stack: Stack) -> dict | None:
    try:
        response = stack.get("/health")
    except requests.ConnectionError:
        assert stack.process.poll() is None, stack.output()[-4000:]
        return None
    return response.json()["data"] if response.status_code == 200 else None


def _account(stack: Stack) -> str:
    email = f"newcomer-{uuid.uuid4().hex[:8]}@example.com"
    signup = requests.post(
        f"{stack.api}/users/signup",
        timeout=30,
        json={"email": email, "username": f"n{uuid.uuid4().hex[:8]}", "password": PASSWORD},
    )
    assert signup.status_code == 201, signup.text
    login = requests.post(f"{stack.api}/users/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    return login.json()["accessToken"]


async def _first_ticks(url: str, symbol: str, wanted: int, deadline_s: float) -> list[dict]:
    ticks: list[dict] = []
    async with websockets.connect(url, open_timeout=30) as socket:
        await socket.send(json.dumps({"action": "subscribe", "symbols": [symbol]}))
        async with asyncio.timeout(deadline_s):
            while len(ticks) < wanted:
                message = json.loads(await socket.recv())
                if message.get("type") == "tick":
                    ticks.append(message)
    return ticks


def test_a_newcomer_signs_up_subscribes_and_receives_ticks(stack):
    wait_for(lambda: _answering(stack), 600, "kstock up to answer /health", interval=0.5)
    token = _account(stack)
    ticks = asyncio.run(_first_ticks(f"{stack.ws}?token={token}", "005930", 3, 120))
    assert all(set(t) == TICK_KEYS and t["symbol"] == "005930" for t in ticks), ticks
    assert all(t["price"] > 0 and t["timestamp"].endswith("Z") for t in ticks), ticks


def test_the_first_start_fills_the_market(stack):
    health = wait_for(lambda: _healthy(stack), 600, "/health to answer 200 with the market loaded", interval=1)
    assert health["streamer"]["ok"] and health["streamer"]["kisConnected"], health
    assert health["market"]["state"] == "loaded", health
    assert health["postgres"]["kind"] == health["redis"]["kind"] == "embedded"
    assert health["environment"] == "local"  # the stack's settings win over the template's
    streamer = requests.get(f"http://127.0.0.1:{stack.ports['STREAMER_HEALTH_PORT']}/health", timeout=10).json()
    assert streamer["kisConnected"] and set(streamer["streamed"]) >= {"005930", "000660"}, streamer
    assert {"publishRatePerSecond", "writerLagSeconds", "slotsUsed", "polled", "tasks"} <= set(streamer)

    ranking = stack.get("/rankings/companies").json()["data"]
    caps = [r["marketCap"] for r in ranking[:20]]
    assert all(caps) and caps == sorted(caps, reverse=True), ranking[:5]

    samsung = stack.get("/companies", keyword="삼성전자").json()["data"][0]
    bars = stack.get(f"/companies/{samsung['companyId']}/ohlcv", interval="1d", start="2020-01-01T00:00:00Z")
    assert len(bars.json()["data"]) >= 400

    detail = stack.get(f"/companies/{samsung['companyId']}").json()["data"]
    assert detail["homepage"] and detail["listedOn"], detail


def test_news_filings_and_financials_arrive_marked_simulated(stack):
    def simulated(path: str) -> list[dict] | None:
        data = stack.get(path).json().get("data") or []
        return data if data and all(item["source"] == "simulated" for item in data) else None

    samsung = stack.get("/companies", keyword="삼성전자").json()["data"][0]["companyId"]
    news = wait_for(lambda: simulated(f"/companies/{samsung}/news"), 300, "the company's news", interval=2)
    assert all(".simulated.kstock.local" in item["url"] for item in news)
    financials = wait_for(lambda: simulated(f"/companies/{samsung}/financials"), 300, "its financials", interval=2)
    assert "FY" in {f["period"] for f in financials}
    reports = wait_for(lambda: simulated(f"/companies/{samsung}/reports"), 300, "its filings", interval=2)
    assert all(r["url"].startswith("https://dart.fss.or.kr/dsaf001/main.do?rcpNo=") for r in reports)
    words = wait_for(lambda: stack.get(f"/companies/{samsung}/news/keywords").json()["data"], 120, "keywords")
    assert all(w["keyword"] != "삼성전자" and w["count"] > 0 for w in words)


def test_the_console_is_quiet_and_says_what_runs_where(stack):
    wait_for(lambda: "kstock is up" in stack.output(), 120, "the ready banner")
    output = stack.output()
    assert 'HTTP/1.1" 200' not in output, "the local AWS endpoint's access log is on by default"
    assert f"http://127.0.0.1:{stack.ports['KSTOCK_API_PORT']}" in output
    assert "/live" in output, "the banner points a newcomer at the live page"


def test_env_exports_the_stack_without_its_signing_key(stack):
    kstock = Path(sys.executable).with_name("kstock")
    exported = subprocess.run(
        [str(kstock), "env"],
        cwd=stack.workdir,
        env=fresh_machine_environment(stack.home, stack.ports),
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert f"export KSTOCK_API_URL={stack.api}" in exported
    assert f"export KSTOCK_CONNECTIONS_URL=http://127.0.0.1:{stack.ports['KSTOCK_WS_PORT']}/" in exported
    assert "export DATABASE_URL=" in exported and "export AWS_ENDPOINT_URL=" in exported


def test_ctrl_c_stops_everything(stack):
    children = psutil.Process(stack.process.pid).children(recursive=True)
    assert children, "kstock up runs its servers as child processes"
    stack.process.send_signal(signal.SIGINT)
    stack.process.wait(timeout=120)
    output = stack.output()
    assert stack.process.returncode == 0, output[-4000:]
    assert "stopped" in output
    for port in stack.ports.values():
        assert not port_open("127.0.0.1", port), f"port {port} still open after Ctrl-C"
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if str(stack.workdir) in " ".join(p.info["cmdline"] or [])]
    assert not leftovers, f"still running after Ctrl-C: {leftovers}"
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"orphans after Ctrl-C: {alive}"
