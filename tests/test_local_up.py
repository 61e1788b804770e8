"""`kstock up` on embedded defaults: serves the API, stops cleanly on Ctrl-C (SIGINT)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from kstock.embedded import free_port, port_open


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_kstock_up_serves_health_and_search_then_stops_on_ctrl_c(tmp_path):
    api_port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "KSTOCK_EMBEDDED"}}
    env.update(KSTOCK_HOME=str(tmp_path / "home"), KSTOCK_API_PORT=str(api_port),
               EMBEDDED_REDIS_PORT=str(redis_port), KSTOCK_ENV="local")
    kstock = Path(sys.executable).with_name("kstock")
    proc = subprocess.Popen([str(kstock), "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    base = f"http://127.0.0.1:{api_port}"

    def healthy():
        try:
            return requests.get(f"{base}/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            assert proc.poll() is None, proc.stdout.read()
            return False

    try:
        wait_for(healthy, 90, "kstock up to answer /health")
        health = requests.get(f"{base}/health", timeout=5).json()["data"]
        assert health["postgres"]["kind"] == health["redis"]["kind"] == "embedded"
        found = requests.get(f"{base}/companies", params={"keyword": "삼성"}, timeout=5).json()["data"]
        assert found[0]["name"] == "삼성전자"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "kstock up runs its servers as child processes"
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "stopped" in output
    assert not port_open("127.0.0.1", api_port) and not port_open("127.0.0.1", redis_port)
    pgdata = str(tmp_path / "home" / "postgres")
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if pgdata in " ".join(p.info["cmdline"] or [])]
    assert not leftovers, "embedded PostgreSQL still running after Ctrl-C"
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
