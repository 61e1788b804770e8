"""GET /companies/{id}/data-status, and a favorite or holding add that queues what a company lacks:
daily history (BackfillQueue -> the KIS simulator), filings and financials (DartQueue -> the OpenDART
stand-in) and news (NewsQueue -> the Naver stand-in), all through the production template on the
local cloud, until the status says ``isComplete``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from support.cloud import start_cloud
from support.content import company, forget_content, quiet_template
from support.envs import environment
from support.kis import forget_kis_tokens
from support.users import PASSWORD, new_email
from support.waiting import wait_for

from kstock import db, loads
from kstock_local.cli.content import DART_STAND_IN_KEY
from kstock_local.dart_sim import DartStandInConfig, DartStandInThread
from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.kis_sim.server import SimulatorThread
from kstock_local.naver_sim import NaverStandInThread

FAVORITE, HOLDING = "000270", "012330"  # 기아, 현대모비스: no other module stores content for them


@pytest.fixture(scope="module")
def providers(services) -> Iterator[dict[str, str]]:
    forget_kis_tokens()
    with (
        SimulatorThread(SimulatorConfig(rest_port=0, ws_port=0, trades_per_second=0)) as kis,
        NaverStandInThread() as naver,
        DartStandInThread(DartStandInConfig()) as dart,
    ):
        yield {
            "KIS_REST_URL": kis.rest_url,
            "KIS_WS_URL": kis.ws_url,
            "NAVER_API_URL": naver.url,
            "DART_API_URL": dart.url,
            "DART_API_KEY": DART_STAND_IN_KEY,
        }
    forget_kis_tokens()


@pytest.fixture(scope="module")
def companies(database) -> Iterator[dict[str, dict[str, Any]]]:
    found = {s: company(s) for s in (FAVORITE, HOLDING)}
    ids = [c["id"] for c in found.values()]
    with db.read() as conn:
        before = conn.execute("SELECT coalesce(max(id), 0) AS id FROM news").fetchone()["id"]
    forget_content(ids, list(found))
    yield found
    forget_content(ids, list(found))
    with db.transaction() as conn:
        conn.execute("DELETE FROM news WHERE id > %s", (before,))


@pytest.fixture(scope="module")
def cloud(services, database, moto_endpoint, providers, tmp_path_factory):
    template = quiet_template(tmp_path_factory.mktemp("data-status"), "data-status")
    with start_cloud(template, moto_endpoint, {**services, **providers, "BCRYPT_ROUNDS": "4"}) as running:
        # what the first `kstock up` does before DART loads: this stand-in's corp codes
        asyncio.run(running.functions.get("DartCorpCodesFunction").invoke({}))
        yield running


@pytest.fixture(scope="module")
def token(cloud) -> str:
    email = new_email()
    call(cloud, "POST", "/users/signup", json={"email": email, "username": "status", "password": PASSWORD})
    return call(cloud, "POST", "/users/login", json={"email": email, "password": PASSWORD})[1]["accessToken"]


def call(cloud, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.request(method, cloud.http_url + path, headers=headers, timeout=30, **kwargs)
    return response.status_code, response.json()


def status_of(cloud, company_id: int) -> dict[str, Any]:
    code, body = call(cloud, "GET", f"/companies/{company_id}/data-status")
    assert code == 200, body
    return body["data"]


def assert_empty(status: dict[str, Any]) -> None:
    assert status["isComplete"] is False
    assert status["missing"] == ["daily_bars", "filings", "financials", "news"]
    assert status["dailyBars"] == {"count": 0, "firstDay": None, "lastDay": None, "refreshedAt": None}
    assert (status["financials"]["periods"], status["filings"]["count"], status["news"]["count"]) == (0, 0, 0)


def assert_complete(status: dict[str, Any]) -> None:
    assert status["isComplete"] is True and status["missing"] == []
    bars = status["dailyBars"]
    assert bars["count"] > 200 and bars["firstDay"] < bars["lastDay"] and bars["refreshedAt"]
    assert status["financials"]["periods"] > 0 and status["financials"]["yearly"] > 0
    assert status["filings"]["count"] > 0 and status["news"]["count"] > 0
    assert all(status[kind]["refreshedAt"] for kind in ("financials", "filings", "news"))


def loaded(cloud, company_id: int) -> dict[str, Any] | None:
    """The status once complete and every worker has also marked its refresh (written just after its rows:
    complete alone can be read between the two)."""
    s = status_of(cloud, company_id)
    refreshed = all(s[kind]["refreshedAt"] for kind in ("dailyBars", "financials", "filings", "news"))
    return s if s["isComplete"] and refreshed else None


def test_a_favorite_queues_what_the_company_lacks_until_complete(cloud, companies, token):
    kia = companies[FAVORITE]
    assert_empty(status_of(cloud, kia["id"]))
    code, body = call(cloud, "POST", "/users/favorites", token=token, json={"companyId": kia["id"]})
    assert code == 201, body

    done = wait_for(lambda: loaded(cloud, kia["id"]), 90, "the favorite's data loads to complete")
    assert_complete(done)
    # what the routes now answer
    assert call(cloud, "GET", f"/companies/{kia['id']}/news")[1]["data"]
    assert call(cloud, "GET", f"/companies/{kia['id']}/reports")[1]["data"]
    assert call(cloud, "GET", f"/companies/{kia['id']}/financials")[1]["data"]
    # nothing is missing now: nothing more is queued
    with environment(
        AWS_ENDPOINT_URL=cloud.endpoint,
        **{
            name: cloud.provisioned.queue_urls[queue]
            for name, queue in (
                ("BACKFILL_QUEUE_URL", "BackfillQueue"),
                ("DART_QUEUE_URL", "DartQueue"),
                ("NEWS_QUEUE_URL", "NewsQueue"),
            )
        },
    ):
        queued = loads.queue_missing(kia["id"])
    assert (queued.kinds, queued.messages) == ([], 0)


def test_a_new_holding_queues_its_loads_too(cloud, companies, token):
    mobis = companies[HOLDING]
    assert_empty(status_of(cloud, mobis["id"]))
    code, body = call(
        cloud,
        "POST",
        "/users/portfolio",
        token=token,
        json={"companyId": mobis["id"], "quantity": 3, "averagePrice": 250000},
    )
    assert code == 201, body
    done = wait_for(lambda: loaded(cloud, mobis["id"]), 90, "the holding's data loads to complete")
    assert_complete(done)


def test_data_status_of_an_unknown_company_is_not_found(cloud):
    code, body = call(cloud, "GET", "/companies/999999/data-status")
    assert (code, body["code"]) == (404, "NOT_FOUND")
    code, body = call(cloud, "GET", "/companies/abc/data-status")
    assert (code, body["code"]) == (400, "INVALID_REQUEST")
