"""Filings and financials through the product's wiring: DartCorpCodesFunction and DartQueue ->
DartWorkerFunction (the production template on the local cloud) -> the OpenDART stand-in over real
sockets -> Postgres -> the REST routes (financials per period, reports, comparison detail) over HTTP."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from support.cloud import parked, sqs_of, start_cloud
from support.content import company, forget_content, quiet_template
from support.envs import environment
from support.users import PASSWORD, new_email
from support.waiting import wait_for

from kstock import db
from kstock.dart import sync
from kstock_local.cli.content import DART_STAND_IN_KEY
from kstock_local.cloud.lambdas.runtime import load_handler
from kstock_local.dart_sim import DartStandInConfig, DartStandInThread

SYMBOLS = ["068270", "066570"]  # 셀트리온, LG전자: no other module stores content for them


@pytest.fixture(scope="module")
def dart(services) -> Iterator[Any]:
    with DartStandInThread(DartStandInConfig()) as standin:
        yield standin


@pytest.fixture(scope="module")
def companies(database) -> Iterator[list[dict[str, Any]]]:
    found = [company(s) for s in SYMBOLS]
    forget_content([c["id"] for c in found], SYMBOLS)
    yield found
    forget_content([c["id"] for c in found], SYMBOLS)


@pytest.fixture(scope="module")
def cloud(services, database, moto_endpoint, dart, tmp_path_factory):
    template = quiet_template(tmp_path_factory.mktemp("dart-wiring"), "dart-wiring")
    env = {**services, "DART_API_URL": dart.url, "DART_API_KEY": DART_STAND_IN_KEY, "BCRYPT_ROUNDS": "4"}
    with start_cloud(template, moto_endpoint, env) as running:
        # every DART load looks companies up by corp code: this stand-in's codes, not another module's
        result = asyncio.run(running.functions.get("DartCorpCodesFunction").invoke({}))
        assert result["companies"] >= 200 and result["changed"] <= result["fetched"], result
        yield running


@pytest.fixture(scope="module")
def sqs(cloud):
    return sqs_of(cloud)


def call(cloud, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.request(method, cloud.http_url + path, headers=headers, timeout=30, **kwargs)
    return response.status_code, response.json()


def refreshed(company_id: int) -> set[str]:
    with db.read() as conn:
        rows = conn.execute("SELECT kind FROM data_refreshes WHERE company_id = %s", (company_id,)).fetchall()
    return {r["kind"] for r in rows}


@pytest.fixture(scope="module")
def loaded(cloud, sqs, companies) -> list[dict[str, Any]]:
    sqs.send_message(QueueUrl=cloud.provisioned.queue_urls["DartQueue"], MessageBody=json.dumps({"symbols": SYMBOLS}))
    for c in companies:
        wait_for(lambda c=c: {"filings", "financials"} <= refreshed(c["id"]), 90, f"the DART load of {c['name']}")
    return companies


def test_a_queued_load_fills_financials_per_period_marked_simulated(cloud, loaded):
    for c in loaded:
        status, body = call(cloud, "GET", f"/companies/{c['id']}/financials", params={"size": 100})
        periods = body["data"]
        assert status == 200 and periods, body
        assert {p["source"] for p in periods} == {"simulated"}
        assert {p["period"] for p in periods} == {"FY", "Q1", "Q2", "Q3"}
        assert {p["fsDiv"] for p in periods} <= {"CFS", "OFS"} and all(p["fsDiv"] for p in periods)
        assert all(isinstance(p["revenue"], int) for p in periods)
        years = [p["fiscalYear"] for p in periods]
        assert years == sorted(years, reverse=True)  # newest year first
        yearly = call(cloud, "GET", f"/companies/{c['id']}/financials", params={"kind": "yearly"})[1]["data"]
        quarterly = call(cloud, "GET", f"/companies/{c['id']}/financials", params={"kind": "quarterly", "size": 100})[1]
        assert yearly and {p["period"] for p in yearly} == {"FY"}
        assert quarterly["data"] and "FY" not in {p["period"] for p in quarterly["data"]}
        assert len(yearly) + len(quarterly["data"]) == len(periods)
        status, body = call(cloud, "GET", f"/companies/{c['id']}/financials", params={"kind": "monthly"})
        assert (status, body["code"]) == (400, "INVALID_REQUEST")


def test_a_queued_load_fills_reports_with_dart_links(cloud, loaded):
    for c in loaded:
        status, body = call(cloud, "GET", f"/companies/{c['id']}/reports", params={"size": 100})
        reports = body["data"]
        assert status == 200 and reports, body
        assert {r["source"] for r in reports} == {"simulated"}
        assert all(r["url"] == f"https://dart.fss.or.kr/dsaf001/main.do?rcpNo={r['receiptNo']}" for r in reports)
        filed = [r["filedOn"] for r in reports]
        assert filed == sorted(filed, reverse=True)
        status, body = call(cloud, "GET", f"/companies/{c['id']}/data-status")
        data = body["data"]
        assert data["filings"]["count"] >= len(reports) and data["filings"]["refreshedAt"]
        assert data["financials"]["periods"] > 0 and data["financials"]["latestPeriod"] in {"FY", "Q1", "Q2", "Q3"}


def test_the_comparison_detail_shows_the_latest_full_year(cloud, loaded):
    email = new_email()
    call(cloud, "POST", "/users/signup", json={"email": email, "username": "dart", "password": PASSWORD})
    token = call(cloud, "POST", "/users/login", json={"email": email, "password": PASSWORD})[1]["accessToken"]
    status, body = call(
        cloud, "POST", "/comparisons", token=token, json={"name": "DART", "companies": [c["id"] for c in loaded]}
    )
    assert status == 201, body
    detail = call(cloud, "GET", f"/comparisons/{body['data']['comparisonId']}", token=token)[1]["data"]
    for member, c in zip(detail["companies"], loaded, strict=True):
        newest_year = call(cloud, "GET", f"/companies/{c['id']}/financials", params={"kind": "yearly"})[1]["data"][0]
        assert (member["fiscalYear"], member["revenue"], member["operatingProfit"]) == (
            newest_year["fiscalYear"],
            newest_year["revenue"],
            newest_year["operatingProfit"],
        )


def test_a_redelivered_load_changes_nothing(cloud, loaded):
    record = {
        "messageId": "again",
        "receiptHandle": "again",
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "awsRegion": "ap-northeast-2",
        "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:dart-wiring-DartQueue",
        "body": json.dumps({"symbols": SYMBOLS}),
    }
    ids = [c["id"] for c in loaded]

    def snapshot() -> tuple[Any, ...]:
        with db.read() as conn:
            reports = conn.execute("SELECT count(*) AS n FROM reports WHERE company_id = ANY(%s)", (ids,)).fetchone()
            figures = conn.execute(
                "SELECT count(*) AS n, sum(revenue) AS r FROM financials WHERE company_id = ANY(%s)", (ids,)
            ).fetchone()
        return reports["n"], figures["n"], figures["r"]

    before = snapshot()
    assert asyncio.run(cloud.functions.get("DartWorkerFunction").invoke({"Records": [record]})) == {
        "batchItemFailures": []
    }
    assert snapshot() == before


def test_poison_messages_end_in_the_dead_letter_queue(cloud, sqs):
    poison = [
        "not json",
        json.dumps({}),
        json.dumps({"symbols": ["bad"]}),
        json.dumps({"symbols": ["068270"], "parts": ["everything"]}),
    ]
    for body in poison:
        sqs.send_message(QueueUrl=cloud.provisioned.queue_urls["DartQueue"], MessageBody=body)
    dlq = cloud.provisioned.queue_urls["DartDeadLetterQueue"]
    assert sorted(parked(sqs, dlq, len(poison), "the poison messages in DartDeadLetterQueue")) == sorted(poison)


def test_the_season_job_queues_every_company_with_a_corp_code(cloud, sqs, loaded):
    probe = sqs.create_queue(QueueName="dart-wiring-season-probe")["QueueUrl"]
    with environment(DART_QUEUE_URL=probe, AWS_ENDPOINT_URL=cloud.endpoint, AWS_REGION="ap-northeast-2"):
        result = load_handler("chalicelib.handlers.jobs.dart.financials")({}, None)
    with db.read() as conn:
        with_codes = conn.execute(
            "SELECT count(*) AS n FROM companies c JOIN dart_corp_codes d ON d.stock_code = c.symbol"
        ).fetchone()["n"]
    year, report_code = sync.latest_season()
    assert result == {
        "year": year,
        "reportCode": report_code,
        "companies": with_codes,
        "sent": math.ceil(with_codes / 20),
    }
    received: list[dict[str, Any]] = []

    def drained() -> bool:
        answer = sqs.receive_message(QueueUrl=probe, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        received.extend(json.loads(m["Body"]) for m in answer.get("Messages", []))
        return len(received) >= result["sent"]

    wait_for(drained, 30, "the season's messages on the probe queue")
    assert sum(len(m["symbols"]) for m in received) == with_codes
    assert all(
        m["parts"] == ["financials"] and m["years"] == [year] and m["reportCodes"] == [report_code] for m in received
    )
    sqs.delete_queue(QueueUrl=probe)
