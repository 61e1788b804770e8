"""`kstock up` on embedded defaults: serves the API, stops cleanly on Ctrl-C (SIGINT)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import requests
from cloud_fixtures import wait_for

from kstock.embedded import free_port, port_open


def test_kstock_up_serves_health_and_search_then_stops_on_ctrl_c(tmp_path):
    api_port, ws_port, moto_port, redis_port, sim_rest, sim_ws, health_port = (free_port() for _ in range(7))
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "KSTOCK_EMBEDDED", "AWS_ENDPOINT_URL"}}
    env.update(KSTOCK_HOME=str(tmp_path / "home"), KSTOCK_API_PORT=str(api_port), KSTOCK_WS_PORT=str(ws_port),
               MOTO_PORT=str(moto_port), EMBEDDED_REDIS_PORT=str(redis_port), KSTOCK_ENV="local",
               KIS_SIM_REST_PORT=str(sim_rest), KIS_SIM_WS_PORT=str(sim_ws), STREAMER_HEALTH_PORT=str(health_port))
    env.pop("KIS_APP_KEY", None)
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
        wait_for(healthy, 15, "kstock up to answer /health")  # the start-up budget
        health = requests.get(f"{base}/health", timeout=5).json()["data"]
        assert health["postgres"]["kind"] == health["redis"]["kind"] == "embedded"
        assert health["environment"] == "local"  # the stack's settings win over the template's
        found = requests.get(f"{base}/companies", params={"keyword": "삼성"}, timeout=5).json()["data"]
        assert found[0]["name"] == "삼성전자"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "kstock up runs its servers as child processes"
        streamer = wait_for(lambda: _json(f"http://127.0.0.1:{health_port}/health"), 15, "the streamer's health")
        assert streamer["kisConnected"] and set(streamer["streamed"]) >= {"005930", "000660"}
        assert {"publishRatePerSecond", "writerLagSeconds", "slotsUsed", "polled"} <= set(streamer)
        exported = subprocess.run([str(kstock), "env"], env=env, capture_output=True, text=True, timeout=30).stdout
        assert f"export KSTOCK_API_URL=http://127.0.0.1:{api_port}" in exported
        assert f"export KSTOCK_CONNECTIONS_URL=http://127.0.0.1:{ws_port}/" in exported
        assert "export DATABASE_URL=" in exported and "export AWS_ENDPOINT_URL=" in exported
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "stopped" in output
    assert f"simulator http://127.0.0.1:{sim_rest}" in output
    for port in (api_port, ws_port, moto_port, redis_port, sim_rest, sim_ws, health_port):
        assert not port_open("127.0.0.1", port), f"port {port} still open after Ctrl-C"
    pgdata = str(tmp_path / "home" / "postgres")
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if pgdata in " ".join(p.info["cmdline"] or [])]
    assert not leftovers, "embedded PostgreSQL still running after Ctrl-C"
    # helpers such as multiprocessing's resource tracker leave once their parent is gone
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"orphans after Ctrl-C: {alive}"


def _json(url: str):
    try:
        response = requests.get(url, timeout=2)
    except requests.ConnectionError:
        return None
    return response.json() if response.status_code == 200 else None
