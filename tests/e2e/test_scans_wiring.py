"""Scans through the product's wiring (issue 15): POST /scans over HTTP -> ScanQueue -> ScanWorkerFunction
(the production template on the local cloud) -> Postgres -> GET /scans/{id}. A redelivered chunk counts
once; poison chunks end in ScanDeadLetterQueue."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from support.cloud import parked, sqs_of, start_cloud
from support.content import quiet_template
from support.scans import an_elw, daily_bars, forget_scans, no_kis, symbols_of
from support.waiting import wait_for

from kstock import db


@pytest.fixture(scope="module")
def kosdaq(database):
    symbols = symbols_of("KOSDAQ")
    with daily_bars(symbols), an_elw():
        yield symbols
    forget_scans()


@pytest.fixture(scope="module")
def cloud(services, database, moto_endpoint, tmp_path_factory):
    template = quiet_template(tmp_path_factory.mktemp("scans-wiring"), "scans-wiring")
    with start_cloud(template, moto_endpoint, {**services, **no_kis()}) as running:
        yield running


@pytest.fixture(scope="module")
def sqs(cloud):
    return sqs_of(cloud)


def call(cloud, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    response = requests.request(
        method,
        cloud.http_url + path,
        timeout=60,
        data=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    return response.status_code, response.json()


def finished(cloud, scan_id: int) -> dict[str, Any] | None:
    status, body = call(cloud, "GET", f"/scans/{scan_id}")
    assert status == 200, body
    return body["data"] if body["data"]["status"] != "running" else None


def queue_idle(sqs, url: str) -> bool:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return all(attributes[n] == "0" for n in names)


def test_a_kosdaq_scan_answers_at_most_five_graded_kosdaq_stocks(cloud, kosdaq):
    # the request's 100 largest of the ~1,700 KOSDAQ stocks the seed lists: two chunks of 50
    assert len(kosdaq) > 100
    status, body = call(cloud, "POST", "/scans", {"market": "KOSDAQ", "excludeElw": True, "topN": 5, "maxTickers": 100})
    assert status == 202 and body["status"] == 202, body
    scan_id = body["data"]["scanId"]
    data = wait_for(lambda: finished(cloud, scan_id), 60, "the scan to complete")
    assert data["status"] == "done"
    assert (data["totalScanned"], data["progress"]["chunksDone"], data["progress"]["chunksTotal"]) == (100, 2, 2)
    results = data["results"]
    assert 0 < len(results) <= 5 and data["returned"] == len(results)
    assert {r["market"] for r in results} == {"KOSDAQ"} and "57LA24" not in {r["symbol"] for r in results}
    assert all(
        r["grade"] in "ABCD" and r["entryPrice"] and r["stopPrice"] < r["entryPrice"] < r["targetPrice"]
        for r in results
    )
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert data["filters"]["excludeElw"] is True and data["filters"]["market"] == "KOSDAQ"
    assert 0 <= data["validSignals"] <= 100
    latest = call(cloud, "GET", "/scans/latest")[1]["data"]
    assert latest["scanId"] == scan_id


def test_a_redelivered_chunk_does_not_double_count(cloud, sqs, kosdaq):
    status, body = call(cloud, "POST", "/scans", {"market": "KOSDAQ", "topN": 3})
    scan_id = body["data"]["scanId"]
    before = wait_for(lambda: finished(cloud, scan_id), 60, "the scan to complete")
    url = cloud.provisioned.queue_urls["ScanQueue"]
    chunk = {"scanId": scan_id, "chunk": 0, "symbols": kosdaq[:50]}
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(chunk))
    wait_for(lambda: queue_idle(sqs, url), 60, "ScanQueue to drain")
    after = finished(cloud, scan_id)
    assert after is not None
    assert (after["totalScanned"], after["progress"], after["validSignals"]) == (
        before["totalScanned"],
        before["progress"],
        before["validSignals"],
    )
    with db.read() as conn:
        chunks = conn.execute("SELECT count(*) AS n FROM scan_chunks WHERE run_id = %s", (scan_id,)).fetchone()["n"]
    assert chunks == 2


def test_poison_chunks_end_in_the_dlq(cloud, sqs, kosdaq):
    url = cloud.provisioned.queue_urls["ScanQueue"]
    poison = [
        "not json",
        json.dumps({"scanId": 2**40, "chunk": 0, "symbols": ["005930"]}),
        json.dumps({"scanId": 1, "chunk": 0, "symbols": []}),
    ]
    for body in poison:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    dlq = cloud.provisioned.queue_urls["ScanDeadLetterQueue"]
    assert sorted(parked(sqs, dlq, len(poison), "the poison chunks in ScanDeadLetterQueue")) == sorted(poison)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/scans", {"market": "NYSE"}, 400, "INVALID_REQUEST"),
        ("POST", "/scans", {"topN": 0}, 400, "INVALID_REQUEST"),
        ("POST", "/scans", {"maxTickers": "10"}, 400, "INVALID_REQUEST"),
        ("POST", "/scans", None, 400, "INVALID_REQUEST"),
        ("GET", "/scans/abc", None, 400, "INVALID_REQUEST"),
        ("GET", "/scans/999999", None, 404, "NOT_FOUND"),
    ],
)
def test_bad_requests_use_the_envelope(cloud, method, path, body, status, code):
    answer, payload = call(cloud, method, path, body)
    assert (answer, payload["status"], payload["code"]) == (status, status, code)
