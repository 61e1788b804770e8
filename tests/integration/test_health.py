"""/health tells the truth: the streamer's status (fresh, stale, missing, failing parts) and the
local stack's first market load decide the answer, and a failing part is named.

The last test runs a real streamer whose fan-out points at a dead AWS endpoint: /health must turn
503 naming the fan-out, and back to 200 once a moto server answers on that endpoint.
"""

from __future__ import annotations

import json
import time

import pytest
from support.envs import environment
from support.moto import moto_server
from support.streamer import StreamerThread, simulator
from support.waiting import wait_for

from kstock import cache, keys
from kstock.health import streamer_health
from kstock_local.embedded import free_port
from kstock_streamer.fanout import FanoutOptions
from kstock_streamer.service import StreamerOptions


def report_streamer(**overrides: object) -> None:
    """Write what a healthy streamer writes (the contract between the streamer and /health)."""
    status = {
        "ok": True,
        "problems": [],
        "reportedAt": time.time(),
        "kisConnected": True,
        "fanoutRunning": True,
        "publishRatePerSecond": 42.0,
        "writerLagSeconds": 0.2,
        "slotsUsed": 4,
        **overrides,
    }
    cache.client().set(keys.STREAMER_STATUS, json.dumps(status), ex=10)


@pytest.fixture(autouse=True)
def _clean(database):
    yield
    cache.client().delete(keys.STREAMER_STATUS, keys.MARKET_LOAD)


def test_no_streamer_status_is_degraded_and_named(api):
    cache.client().delete(keys.STREAMER_STATUS)
    status, body, _ = api("GET", "/health")
    assert status == 503
    assert body["data"]["status"] == "degraded" and body["data"]["streamer"]["state"] == "missing"
    assert "streamer" in body["message"]


def test_a_fresh_healthy_status_is_ok_with_its_figures(api):
    report_streamer()
    status, body, _ = api("GET", "/health")
    assert status == 200, body
    streamer = body["data"]["streamer"]
    assert streamer["ok"] and streamer["kisConnected"] and streamer["fanoutRunning"]
    assert streamer["publishRatePerSecond"] == 42.0 and streamer["ageSeconds"] < 10


def test_simulated_prices_are_labelled(api):
    report_streamer(kisSource="simulated")
    assert api("GET", "/health")[1]["data"]["streamer"]["kisSource"] == "simulated"
    report_streamer(kisSource="kis")
    assert api("GET", "/health")[1]["data"]["streamer"]["kisSource"] == "kis"
    report_streamer(kisSource="something else")  # an older or newer streamer: no label rather than a wrong one
    assert api("GET", "/health")[1]["data"]["streamer"]["kisSource"] is None


def test_a_failing_part_is_named(api):
    report_streamer(ok=False, problems=["fanout keeps failing: NoCredentialsError: Unable to locate credentials"])
    status, body, _ = api("GET", "/health")
    assert status == 503
    assert "fanout keeps failing" in body["message"] and "NoCredentialsError" in body["message"]


def test_an_api_without_a_streamer_can_say_so(api):
    cache.client().delete(keys.STREAMER_STATUS)
    with environment(HEALTH_REQUIRES_STREAMER="false"):
        status, body, _ = api("GET", "/health")
    assert status == 200 and body["data"]["streamer"]["state"] == "missing"


def test_a_stale_status_is_degraded():
    old = json.dumps({"ok": True, "problems": [], "reportedAt": 1000.0, "kisConnected": True})
    judged = streamer_health(old, now=1030.0, max_age=10)
    assert not judged.ok and judged.state == "stale" and judged.problems == ["streamer: status is 30s old"]
    assert streamer_health(old, now=1005.0, max_age=10).ok


def test_the_slots_of_every_kis_key_count():
    key_0 = json.dumps({"ok": True, "problems": [], "reportedAt": 1000.0, "slotsUsed": 0, "slotsLimit": 41})
    key_1 = {"ok": True, "reportedAt": 1000.0, "slotsUsed": 41, "slotsLimit": 41, "streamed": ["005930"]}
    assert streamer_health(key_0, now=1001.0, max_age=10).slots_used == 0
    assert streamer_health(key_0, now=1001.0, max_age=10, other_keys=[key_1]).slots_used == 41


def test_the_first_market_load_answers_starting_with_progress(api):
    report_streamer()
    cache.client().set(
        keys.MARKET_LOAD, json.dumps({"state": "loading", "done": 12, "total": 500, "phase": "daily history"})
    )
    status, body, _ = api("GET", "/health")
    assert status == 503 and body["data"]["status"] == "starting"
    assert body["data"]["market"] == {"state": "loading", "done": 12, "total": 500, "phase": "daily history"}
    cache.client().set(keys.MARKET_LOAD, json.dumps({"state": "loaded", "done": 500, "total": 500}))
    assert api("GET", "/health")[0] == 200


def test_a_dead_aws_endpoint_turns_health_503_naming_the_fanout_and_back(api, services, database):
    from kstock.health import check
    from kstock_local.cloud.provision import local_clients, provision
    from kstock_local.cloud.template import read_template
    from kstock_local.paths import TEMPLATE_PATH

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    options = StreamerOptions(
        default_symbols=["005930"],
        fanout=True,
        plan_interval=0.2,
        stable_seconds=0,
        fanout_options=FanoutOptions(region="ap-northeast-2"),
    )
    with (
        environment(AWS_ENDPOINT_URL=endpoint, CONNECTIONS_TABLE="kstock-ConnectionsTable"),
        simulator() as sim,
        StreamerThread(sim.rest_url, sim.ws_url, services["REDIS_URL"], database, options) as streamer,
    ):
        failing = wait_for(
            lambda: _reported(lambda h: "fanout keeps failing" in " ".join(h.problems)),
            60,
            "/health to name the failing fan-out",
        )
        assert failing.status == "degraded" and not failing.streamer.ok
        # the streamer's own health endpoint answers the same status
        own = wait_for(
            lambda: (lambda s: s if s["tasks"]["fanout"]["state"] == "failing" else None)(streamer.status()),
            60,
            "the streamer's own status to name the fan-out",
        )
        assert own["kisSource"] == "simulated"  # its KIS is the simulator, and says so
        assert not own["ok"] and "connect" in own["tasks"]["fanout"]["lastError"].lower(), own["tasks"]
        with moto_server(port):  # the dead endpoint comes to life on its own port
            template = read_template(TEMPLATE_PATH, sqs_endpoint=endpoint)
            provision(template, *local_clients(endpoint, "ap-northeast-2"))
            recovered = wait_for(
                lambda: _reported(lambda h: h.status == "ok"), 90, "/health back to ok once the endpoint answers"
            )
            assert recovered.streamer.fanout_running
            assert check().status == "ok"


def _reported(condition):
    """The health /health would answer, once the streamer has reported and ``condition`` holds."""
    from kstock.health import check

    report = check()
    return report if report.streamer.state != "missing" and condition(report) else None
