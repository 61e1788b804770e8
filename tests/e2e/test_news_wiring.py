"""News through the product's wiring: NewsQueue -> NewsIngestFunction (the production template on the
local cloud) -> the Naver stand-in over real sockets -> Postgres -> the REST routes over HTTP.
Redelivery stores nothing twice, poison messages end in the DLQ, a spent quota is acknowledged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from support.cloud import parked, sqs_of, start_cloud
from support.content import content_of, quiet_template
from support.waiting import wait_for

from kstock import db
from kstock.news.naver import STAND_IN_CLIENT_ID
from kstock.news.quota import DailyQuota, app_id
from kstock_local.cloud.lambdas.runtime import load_handler
from kstock_local.naver_sim import NaverStandInThread

SYMBOL = "051910"  # LG화학: no other module stores content for it


@pytest.fixture(scope="module")
def naver(services) -> Iterator[Any]:
    with NaverStandInThread() as standin:
        yield standin


@pytest.fixture(scope="module")
def lg(database) -> Iterator[dict[str, Any]]:
    with content_of(SYMBOL) as found:
        yield found


@pytest.fixture(scope="module")
def cloud(services, database, moto_endpoint, naver, tmp_path_factory):
    template = quiet_template(tmp_path_factory.mktemp("news-wiring"), "news-wiring")
    with start_cloud(template, moto_endpoint, {**services, "NAVER_API_URL": naver.url}) as running:
        yield running


@pytest.fixture(scope="module")
def sqs(cloud):
    return sqs_of(cloud)


def send(sqs, cloud, queue: str, body: Any) -> None:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    sqs.send_message(QueueUrl=cloud.provisioned.queue_urls[queue], MessageBody=text)


def poller(cloud, logical_id: str):
    return next(p for p in cloud.pollers if p.function.spec.logical_id == logical_id)


def get(cloud, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = requests.get(cloud.http_url + path, params=params, timeout=30)
    return response.status_code, response.json()


def scalar(sql: str, *params: Any) -> Any:
    with db.read() as conn:
        row = conn.execute(sql, params).fetchone()
    return next(iter(row.values()))


def counts(industry_id: int) -> tuple[int, int, int]:
    return (
        scalar("SELECT count(*) FROM news"),
        scalar("SELECT count(*) FROM news_companies"),
        scalar("SELECT count(*) FROM news_industries WHERE industry_id = %s", industry_id),
    )


def test_a_company_query_fills_the_news_routes_with_simulated_articles(cloud, sqs, lg):
    send(sqs, cloud, "NewsQueue", {"kind": "company", "id": lg["id"], "query": lg["name"]})
    wait_for(
        lambda: scalar("SELECT count(*) FROM data_refreshes WHERE company_id = %s AND kind = 'news'", lg["id"]),
        60,
        "the news worker to record its refresh",
    )

    status, body = get(cloud, f"/companies/{lg['id']}/news", size=100)
    news = body["data"]
    assert status == 200 and news, body
    assert {n["source"] for n in news} == {"simulated"}
    assert all(n["url"].split("/")[2].endswith("simulated.kstock.local") for n in news)
    published = [n["publishedAt"] for n in news]
    assert published == sorted(published, reverse=True)  # newest first
    assert all("<b>" not in n["title"] and "&quot;" not in n["title"] for n in news)  # clean text stored
    second = get(cloud, f"/companies/{lg['id']}/news", size=2, page=2)[1]["data"]
    assert [n["newsId"] for n in second] == [n["newsId"] for n in news[2:4]]

    status, body = get(cloud, f"/companies/{lg['id']}/news/keywords", days=7)
    words = body["data"]
    assert status == 200 and words, body
    assert lg["name"] not in {w["keyword"] for w in words}  # the company's own name is no keyword
    assert [w["count"] for w in words] == sorted((w["count"] for w in words), reverse=True)
    for days in (0, 91):
        status, body = get(cloud, f"/companies/{lg['id']}/news/keywords", days=days)
        assert (status, body["code"]) == (400, "INVALID_REQUEST")

    status, body = get(cloud, f"/companies/{lg['id']}/data-status")
    assert status == 200 and body["data"]["news"]["count"] == len(news) and body["data"]["news"]["refreshedAt"]


def test_a_redelivered_message_stores_nothing_twice(cloud, sqs, lg):
    message = {
        "kind": "industry",
        "id": lg["industry_id"],
        "query": scalar("SELECT name FROM industries WHERE id = %s", lg["industry_id"]),
    }
    ingest = poller(cloud, "NewsIngestFunction")
    done = ingest.stats.succeeded
    send(sqs, cloud, "NewsQueue", message)
    wait_for(lambda: ingest.stats.succeeded > done, 60, "the first delivery to be processed")
    first = counts(lg["industry_id"])
    assert first[2] > 0
    send(sqs, cloud, "NewsQueue", message)  # SQS delivers at least once: the same message again
    wait_for(lambda: ingest.stats.succeeded > done + 1, 60, "the redelivery to be processed")
    assert counts(lg["industry_id"]) == first

    status, body = get(cloud, f"/industries/{lg['industry_id']}/news")
    assert status == 200 and body["data"] and {n["source"] for n in body["data"]} == {"simulated"}


def test_poison_messages_end_in_the_dead_letter_queue(cloud, sqs):
    poison = [
        "not json",
        json.dumps(["a", "list"]),
        json.dumps({"kind": "company", "id": 999_999, "query": "없는 회사"}),
        json.dumps({"kind": "theme", "id": 1, "query": "2차전지"}),
    ]
    for body in poison:
        send(sqs, cloud, "NewsQueue", body)
    dlq = cloud.provisioned.queue_urls["NewsDeadLetterQueue"]
    assert sorted(parked(sqs, dlq, len(poison), "the poison messages in NewsDeadLetterQueue")) == sorted(poison)


def test_a_spent_daily_quota_is_acknowledged_not_retried(cloud, naver, lg):
    quota = DailyQuota(app_id(STAND_IN_CLIENT_ID), 25_000)
    naver.fail_next(429, "010")  # Naver's "Query limit exceeded"
    record = {
        "messageId": "quota",
        "receiptHandle": "quota",
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "awsRegion": "ap-northeast-2",
        "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:news-wiring-NewsQueue",
        "body": json.dumps({"kind": "company", "id": lg["id"], "query": lg["name"]}),
    }
    try:
        result = asyncio.run(cloud.functions.get("NewsIngestFunction").invoke({"Records": [record]}))
        assert result == {"batchItemFailures": []}  # acknowledged: no retry can succeed today
        assert quota.used() >= 25_000  # every worker now stops before calling Naver
    finally:
        with db.transaction() as conn:
            conn.execute("DELETE FROM naver_quota WHERE app = %s", (quota.app,))


def test_the_schedule_queues_the_largest_companies_a_turn_of_the_rest_and_every_industry(cloud, sqs, database):
    probe = sqs.create_queue(QueueName="news-wiring-schedule-probe")["QueueUrl"]
    from support.envs import environment

    with environment(
        NEWS_QUEUE_URL=probe,
        AWS_ENDPOINT_URL=cloud.endpoint,
        AWS_REGION="ap-northeast-2",
        NEWS_TOP_COMPANIES="20",
        NEWS_ROTATING_COMPANIES="7",
    ):
        result = load_handler("chalicelib.handlers.jobs.news.schedule")({}, None)
    expected = 20 + 7 + scalar("SELECT count(*) FROM industries")  # within the quota: not every company each run
    assert result == {"queries": expected, "sent": expected}
    received: list[dict[str, Any]] = []

    def drained() -> bool:
        answer = sqs.receive_message(QueueUrl=probe, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        received.extend(json.loads(m["Body"]) for m in answer.get("Messages", []))
        return len(received) >= expected

    wait_for(drained, 30, "every scheduled query on the probe queue")
    assert {m["kind"] for m in received} == {"company", "industry"}
    assert {
        "kind": "company",
        "id": scalar("SELECT id FROM companies WHERE symbol = '005930'"),
        "query": "삼성전자",
    } in received
    sqs.delete_queue(QueueUrl=probe)
