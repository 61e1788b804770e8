"""KIS benchmarks: frame parsing throughput and the simulator's sustained realtime rate."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from typing import Any

from kstock.kis.protocol import FrameParser

# The single-record frame of docs/kis-protocol.md section 4.1.
SPEC_RECORD = (
    "005930^093015^71500^2^500^0.70^71342.17^71200^71600^71000^71500^71400^12^2154873^153732184100^4512^5123^611^"
    "104.31^1032145^1076643^1^51.07^18.42^090000^2^300^092811^5^-100^090107^2^500^20250714^20^N^48211^102934^"
    "812345^1204567^0.04^1890231^114.00^0^^71200"
)


def _records(n: int, seed: int = 7) -> list[str]:
    """Distinct plausible records (varying code, time, price, volume) so nothing is trivially cached."""
    rng = random.Random(seed)
    base = SPEC_RECORD.split("^")
    out = []
    for i in range(n):
        fields = list(base)
        price = 71_500 + 100 * rng.randint(-50, 50)
        fields[0] = f"{rng.randrange(1, 999_999):06d}"
        fields[1] = f"09{(i // 60) % 60:02d}{i % 60:02d}"
        fields[2] = str(price)
        fields[4] = str(price - 71_000)
        fields[12] = str(rng.randint(1, 500))
        fields[13] = str(2_000_000 + i)
        out.append("^".join(fields))
    return out


def bench_parse(records: int = 400_000, batches: tuple[int, ...] = (1, 4, 10)) -> dict[int, float]:
    """Parse ``records`` H0STCNT0 records per batch size on one core; print and return records/s."""
    pool = _records(1_000)
    results: dict[int, float] = {}
    print(f"kis-parse: H0STCNT0 frames (46 fields/record) -> Tick, {records:,} records per run, one core")
    for batch in batches:
        frames = [
            f"0|H0STCNT0|{batch:03d}|" + "^".join(pool[(i + j) % len(pool)] for j in range(batch))
            for i in range(0, len(pool), 1)
        ]
        parser = FrameParser()
        parse = parser.parse
        needed = max(1, records // batch)
        parsed = 0
        started = time.perf_counter()
        for i in range(needed):
            parsed += len(parse(frames[i % len(frames)]))
        elapsed = time.perf_counter() - started
        rate = parsed / elapsed
        results[batch] = rate
        print(f"  {batch:>3} record(s)/frame: {rate:>12,.0f} records/s  ({parsed:,} records in {elapsed:.2f}s)")
    best = max(results.values())
    print(
        f"  target >= 200,000 records/s: {'met' if min(results.values()) >= 200_000 else 'NOT met'}"
        f" (min {min(results.values()):,.0f}, max {best:,.0f})"
    )
    return results


def bench_sim(rate: float = 5_000, seconds: float = 10.0, sessions: int = 6, warmup: float = 2.0) -> float:
    """Start the simulator in a child process at ``rate`` trades/s and count what clients receive."""
    command = [
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
        "--ready-json",
        "--rest-rate",
        "1000",
    ]
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = child.stdout.readline() if child.stdout else ""
        if not line:
            raise RuntimeError("the simulator did not start")
        urls = json.loads(line)
        received = asyncio.run(_consume(urls["rest_url"], urls["ws_url"], sessions, seconds, warmup))
    finally:
        child.terminate()
        child.wait(timeout=10)
    records, frames = received
    from datetime import datetime

    from kstock.market.calendar import KST
    from kstock_local.kis_sim.market import Market

    shape = Market.profile(((datetime.now(KST).hour * 3600 + datetime.now(KST).minute * 60) % 23_400) / 23_400)
    print(
        f"kis-sim: simulator asked for {rate:,.0f} trades/s across all symbols (x{shape:.2f} U-shaped intraday "
        f"profile now = {rate * shape:,.0f}/s); {sessions} WebSocket sessions x 41 H0STCNT0 subscriptions, "
        f"{seconds:g}s after {warmup:g}s warm-up"
    )
    print(
        f"  received {records / seconds:,.0f} records/s in {frames / seconds:,.0f} frames/s "
        f"({records / max(frames, 1):.1f} records/frame)"
    )
    return records / seconds


async def _consume(rest_url: str, ws_url: str, sessions: int, seconds: float, warmup: float) -> tuple[int, int]:
    from kstock.kis.auth import KisAuth, KisCredentials, MemoryTokenStore
    from kstock.kis.connection import KisWebSocket
    from kstock_local.kis_sim.market import Market

    symbols = list(Market(history_days=0).stocks)
    counts = {"records": 0, "frames": 0, "on": False}

    def on_ticks(ticks: list[Any]) -> None:
        if counts["on"]:
            counts["records"] += len(ticks)
            counts["frames"] += 1

    clients = []
    for i in range(sessions):
        auth = KisAuth(
            KisCredentials(f"bench-app-key-{i:02d}".ljust(36, "0"), "s" * 180), rest_url, store=MemoryTokenStore()
        )
        ws = KisWebSocket(ws_url + "/tryitout", auth, on_ticks=on_ticks, max_subscriptions=41)
        await ws.start()
        clients.append(ws)
        for symbol in symbols[i * 41 : (i + 1) * 41]:
            await ws.subscribe("H0STCNT0", symbol, wait=False)
    for ws in clients:
        await ws.wait_until(lambda s: s.connected and s.subscriptions == s.wanted, 30)
    await asyncio.sleep(warmup)  # let the stream settle before measuring (a benchmark window, not sync)
    counts["on"] = True
    await asyncio.sleep(seconds)
    counts["on"] = False
    for ws in clients:
        await ws.close()
    return int(counts["records"]), int(counts["frames"])
