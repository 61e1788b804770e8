"""Daily-history backfill: BackfillQueue -> BackfillWorkerFunction -> KIS period chart (the
simulator, over real sockets) -> ohlcv_1d, through the production template on the local cloud."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import boto3
import psycopg
import pytest
from support.cloud import start_cloud
from support.kis import forget_kis_tokens
from support.paths import PROJECT_ROOT
from support.waiting import wait_for

from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.kis_sim.server import SimulatorThread


@pytest.fixture(scope="module")
def simulator(services):
    forget_kis_tokens()
    with SimulatorThread(SimulatorConfig(rest_port=0, ws_port=0, trades_per_second=0)) as sim:
        yield sim
    forget_kis_tokens()


@pytest.fixture(scope="module")
def cloud(services, database, moto_endpoint, simulator):
    env = {**services, "KIS_REST_URL": simulator.rest_url, "KIS_WS_URL": simulator.ws_url}
    with start_cloud(PROJECT_ROOT / "template.yaml", moto_endpoint, env) as running:
        yield running


def bars(database, symbol):
    with psycopg.connect(database) as conn:
        return conn.execute(
            "SELECT (bucket AT TIME ZONE 'Asia/Seoul')::date, open, high, low, close, volume, trade_count "
            "FROM ohlcv_1d WHERE symbol = %s ORDER BY bucket",
            (symbol,),
        ).fetchall()


def test_a_queued_request_loads_consistent_daily_bars(cloud, database):
    sqs = boto3.client(
        "sqs",
        endpoint_url=cloud.endpoint,
        region_name="ap-northeast-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM ohlcv_1d WHERE symbol = '005930'")  # other modules' bars are not ours
    request = {"symbol": "005930", "start": "2026-06-01", "end": "2026-10-30"}
    sqs.send_message(QueueUrl=cloud.provisioned.queue_urls["BackfillQueue"], MessageBody=json.dumps(request))
    rows = wait_for(
        lambda: len(bars(database, "005930")) > 100 and bars(database, "005930"), 60, "daily bars in ohlcv_1d"
    )
    days = [r[0] for r in rows]
    assert len(rows) > 100  # five months of trading days (paged over 100-row windows)
    assert min(days) >= date(2026, 6, 1) and max(days) <= date(2026, 10, 30)
    assert all(d.weekday() < 5 for d in days)
    for _, open_, high, low, close, volume, trade_count in rows:
        assert low <= min(open_, close) <= max(open_, close) <= high and volume >= 0
        assert trade_count is None  # the chart does not say; unknown stays unknown
    # running the same request again changes nothing
    asyncio.run(
        cloud.functions.get("BackfillWorkerFunction").invoke({"Records": [_record(json.dumps(request), "again")]})
    )
    assert bars(database, "005930") == rows


def _record(body: str, message_id: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": message_id,
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:kstock-BackfillQueue",
        "awsRegion": "ap-northeast-2",
    }


def test_bad_requests_are_reported_as_item_failures_and_good_ones_complete(cloud, database):
    event = {
        "Records": [
            _record("not json", "bad-json"),
            _record(json.dumps({"symbol": "0059300001", "start": "2026-01-01", "end": "2026-01-31"}), "kotc"),
            _record(json.dumps({"symbol": "000660", "start": "2026-02-01", "end": "2026-01-01"}), "backwards"),
            _record(json.dumps({"symbol": "000660", "start": "2026-09-01", "end": "2026-09-30"}), "good"),
        ]
    }
    result = asyncio.run(cloud.functions.get("BackfillWorkerFunction").invoke(event))
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["backwards", "bad-json", "kotc"]
    assert bars(database, "000660")
