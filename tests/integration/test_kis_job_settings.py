"""KIS jobs in their Lambda process (issue 12): a missing app key is a configuration error the operator's log
names, and a KIS that does not accept connections makes a scheduled run skip at once, with a warning.

The functions run as the local cloud runs them: the template's handler in its own execution environment
(a real process), with the environment a deployment would give it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from support.envs import environment

from kstock.kis.endpoints import endpoint_down
from kstock_local.cloud.lambdas.pool import FunctionError, LocalFunction
from kstock_local.cloud.template import read_template
from kstock_local.embedded import free_port
from kstock_local.kis_sim.credentials import simulator_environment
from kstock_local.paths import TEMPLATE_PATH

TEMPLATE = read_template(TEMPLATE_PATH)


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def listening() -> Iterator[str]:
    """A loopback address that accepts TCP connections (and never answers: the probe only connects)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def invoke(logical_id: str, variables: dict[str, str]) -> object:
    """One invocation of a template function in a fresh execution environment."""
    spec = TEMPLATE.functions[logical_id]
    function = LocalFunction(spec, (TEMPLATE.path.parent / spec.code_uri).resolve(), variables, concurrency=1)
    try:
        return asyncio.run(function.invoke({}))
    finally:
        function.close()


def test_the_probe_tells_a_listening_endpoint_from_a_closed_one(listening: str) -> None:
    assert endpoint_down(listening) is False
    assert endpoint_down(closed_url()) is True
    assert endpoint_down("http://name.invalid:9443") is True  # a name that does not resolve is down too


@pytest.mark.parametrize("logical_id", ["MarketDataFunction", "IndexDataFunction", "RankWatchFunction"])
def test_a_kis_job_without_kis_app_key_fails_and_its_log_names_the_setting(
    logical_id: str, listening: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # KIS itself would be there: only the key is missing (the session's placeholders are taken away)
    with environment(KIS_APP_KEY=None, KIS_APP_SECRET=None):
        with pytest.raises(FunctionError) as failed:
            invoke(logical_id, {"KIS_REST_URL": listening})
    assert failed.value.payload["errorType"] == "MissingSetting", failed.value.payload
    assert "KIS_APP_KEY is not set" in failed.value.payload["errorMessage"]
    out = capfd.readouterr().out
    assert f"[{logical_id}] Traceback" in out, out  # what Lambda writes to the function's log when it raises
    function_log = out.split(f"[{logical_id}] Traceback", 1)[1]
    assert "kstock.config.MissingSetting: KIS_APP_KEY is not set" in function_log, function_log


@pytest.mark.parametrize(
    ("logical_id", "skipped"),
    [
        ("MarketDataFunction", {"skipped": 1}),
        ("IndexDataFunction", {"skipped": True}),
        ("RankWatchFunction", {"skipped": True}),
    ],
)
def test_a_scheduled_run_skips_with_a_warning_when_kis_does_not_accept_connections(
    logical_id: str, skipped: dict[str, object], capfd: pytest.CaptureFixture[str]
) -> None:
    down = closed_url()
    answer = invoke(logical_id, simulator_environment(down, down.replace("http", "ws")))
    assert answer == skipped
    out = capfd.readouterr().out
    assert "KIS does not accept connections" in out and down in out, out
