"""LocalStack through localstack-client, tested without Docker: a closed port and a server that is not LocalStack
give clear errors, a health answer is accepted, and provisioning with --localstack creates the template's queues
(moto plays the edge) with or without localstack-client installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from support.envs import environment
from support.paths import PROJECT_ROOT

from kstock_local.cloud.localstack import HEALTH_PATH, LocalStackUnavailable, connect
from kstock_local.embedded import free_port

TEMPLATE = PROJECT_ROOT / "tests" / "support" / "local_cloud" / "template.yaml"


class _Health(BaseHTTPRequestHandler):
    """What LocalStack answers on its health path (its shape, not its behaviour)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = json.dumps({"services": {"sqs": "running", "dynamodb": "running"}}).encode()
        self.send_response(200 if self.path == HEALTH_PATH else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _bare_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK_", "DATABASE_", "REDIS_"))}
    return {**env, **extra}


def test_connect_accepts_a_health_answer(health_server):
    with environment(AWS_ENDPOINT_URL=None):
        assert connect(health_server) == f"http://{health_server}"


def test_a_server_that_is_not_localstack_is_named(moto_endpoint):
    host = moto_endpoint.removeprefix("http://")
    with environment(AWS_ENDPOINT_URL=None), pytest.raises(LocalStackUnavailable, match="not as LocalStack"):
        connect(host)


def test_kstock_up_localstack_without_localstack_says_so_and_starts_nothing(tmp_path: Path):
    port = free_port()
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-m", "kstock_local.cli.main", "up", "--localstack"],
        env=_bare_environment(LOCALSTACK_HOST=f"127.0.0.1:{port}", KSTOCK_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"LocalStack is not answering at http://127.0.0.1:{port}" in result.stderr
    assert "docker compose -f local/localstack/docker-compose.yml up -d" in result.stderr
    assert not home.exists()  # refused before any embedded server started


def _provision(endpoint_host: str, stack: str, *, hide_localstack_client: bool) -> subprocess.CompletedProcess[str]:
    """The hook's command (`--localstack`, no --endpoint: the edge comes from LOCALSTACK_HOST)."""
    argv = ["--localstack", "--template", str(TEMPLATE), "--stack-name", stack]
    hidden = ["localstack_client", "localstack_client.session", "localstack_client.config"]
    hide = f"sys.modules.update(dict.fromkeys({hidden!r}));" if hide_localstack_client else ""
    code = f"import sys; {hide}from kstock_local.cloud.provision import main; sys.exit(main({argv!r}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=_bare_environment(LOCALSTACK_HOST=endpoint_host, PYTHONPATH=str(PROJECT_ROOT / "local")),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )


def _queue_names(endpoint: str) -> list[str]:
    sqs = boto3.client(
        "sqs", endpoint_url=endpoint, region_name="ap-northeast-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return [url.rsplit("/", 1)[1] for url in sqs.list_queues().get("QueueUrls", [])]


def test_provision_localstack_uses_the_edge_localstack_client_names(moto_endpoint):
    result = _provision(moto_endpoint.removeprefix("http://"), "lsclient", hide_localstack_client=False)
    assert result.returncode == 0, result.stderr
    assert "localstack-client is not installed" not in result.stderr
    assert "lsclient-JobsQueue" in _queue_names(moto_endpoint)
    assert f"queue JobsQueue: {moto_endpoint}/" in result.stdout


def test_provision_localstack_runs_with_boto3_alone(moto_endpoint):
    """LocalStack's hook environment may lack localstack-client: the provisioning still runs, on plain boto3."""
    result = _provision(moto_endpoint.removeprefix("http://"), "bare", hide_localstack_client=True)
    assert result.returncode == 0, result.stderr
    assert "localstack-client is not installed" in result.stderr
    assert "bare-JobsQueue" in _queue_names(moto_endpoint)
