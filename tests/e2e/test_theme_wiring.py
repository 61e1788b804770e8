"""Theme sync through the product's wiring: RankWatchFunction against the KIS simulator, a
ThemeClassifyQueue message through ThemeClassifyFunction (news fetched on demand from the Naver
stand-in, rules without a Gemini key) into Postgres, the theme_update through the streamer's fan-out
to a WebSocket client subscribed to ``themes``, the /themes routes over HTTP, and the DLQ."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from support.cloud import parked, sqs_of, start_cloud
from support.content import content_of, quiet_template
from support.demand import forget_demand
from support.envs import environment
from support.live import open_client, recv_until, subscribe
from support.streamer import StreamerThread
from support.waiting import wait_for

from kstock import cache, db, keys
from kstock.market.calendar import KST
from kstock_local.naver_sim import NaverStandInThread
from kstock_streamer.fanout import FanoutOptions
from kstock_streamer.service import StreamerOptions

SECRET = "test-only-signing-key-not-a-real-secret"
SYMBOL = "247540"  # 에코프로비엠: one simulated theme (2차전지), and no other module stores its content


def forget_themes() -> None:
    with db.transaction() as conn:
        for table in ("theme_sightings", "theme_classifications", "theme_metrics", "theme_members", "themes"):
            conn.execute(f"DELETE FROM {table}")
    cache.client().delete(keys.THEME_TOP_30, keys.THEMES_LIST_CACHE, keys.THEMES_METRICS_CACHE)


@pytest.fixture(scope="module")
def naver(services) -> Iterator[Any]:
    with NaverStandInThread() as standin:
        yield standin


@pytest.fixture(scope="module")
def env(services, moto_endpoint, sim, naver):
    values = {
        "JWT_SECRET": SECRET,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "KIS_REST_URL": sim.sim.rest_url,
        "NAVER_API_URL": naver.url,
        "THEME_SYNC_DEBOUNCE_SECONDS": "3600",  # rank watch records the ranking; this module queues by hand
    }
    with environment(**values, GOOGLE_API_KEY=None):
        yield values


@pytest.fixture(scope="module")
def cloud(env, services, database, moto_endpoint, tmp_path_factory):
    forget_themes()
    template = quiet_template(tmp_path_factory.mktemp("theme-wiring"), "theme-wiring")
    with start_cloud(template, moto_endpoint, {**services, **env}) as running:
        yield running
    forget_themes()


@pytest.fixture(scope="module")
def streamer(sim, cloud, services, database):
    options = StreamerOptions(
        default_symbols=[SYMBOL],
        stable_seconds=0.5,
        plan_interval=0.2,
        poll_rate=5,
        run_writer=False,
        fanout=True,
        fanout_options=FanoutOptions(concurrency=8),
    )
    forget_demand(cache.client())
    thread = StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options)
    with thread as running:
        wait_for(lambda: running.fanout.ready.is_set(), 30, "fan-out index built")
        yield running


@pytest.fixture(scope="module")
def company(database) -> Iterator[dict[str, Any]]:
    with content_of(SYMBOL) as found:
        yield found


@pytest.fixture(scope="module")
def sqs(cloud):
    return sqs_of(cloud)


def get(cloud, path: str) -> tuple[int, dict[str, Any]]:
    response = requests.get(cloud.http_url + path, timeout=30)
    return response.status_code, response.json()


def today() -> str:
    return datetime.now(KST).date().isoformat()


def test_rank_watch_records_the_simulators_top_30(cloud, sim):
    result = asyncio.run(cloud.functions.get("RankWatchFunction").invoke({}))
    top = cache.client().smembers(keys.THEME_TOP_30)
    assert result["top"] == len(top) and 0 < len(top) <= 30, result
    names = sim.call(lambda s: {x.symbol: x.name for x in s.market.stocks.values()})
    with db.read() as conn:
        rows = conn.execute(
            "SELECT symbol, name, change_percent FROM theme_sightings WHERE day = %s", (today(),)
        ).fetchall()
    seen = {r["symbol"] for r in rows}
    assert all(r["change_percent"] > 0 and r["name"] == names[r["symbol"]] for r in rows)  # risers, as KIS named them
    assert seen == top and result["queued"] == 0  # nobody stayed the debounce yet


def test_an_entrant_is_classified_stored_and_broadcast_to_themes_subscribers(cloud, sqs, streamer, company):
    ws, cid = open_client(cloud)
    with ws:
        subscribe(ws, topics=["themes"])
        wait_for(lambda: cid in streamer.fanout.by_topic.get("themes", {}), 15, "the themes topic indexed")
        body = json.dumps({"symbol": SYMBOL, "day": today(), "attempt": 0})
        sqs.send_message(QueueUrl=cloud.provisioned.queue_urls["ThemeClassifyQueue"], MessageBody=body)
        update, _ = recv_until(
            ws,
            lambda m: (
                m.get("type") == "theme_update"
                and any(SYMBOL in {x["symbol"] for x in t["members"]} for t in m["themes"])
            ),
            120,
            "the theme_update",
        )
    [block] = [t for t in update["themes"] if SYMBOL in {m["symbol"] for m in t["members"]}]
    assert block["name"] == "2차전지" and isinstance(block["themeId"], int)
    [member] = block["members"]
    assert member["name"] == company["name"] and member["classifier"] == "rules"
    assert member["changePercent"] is None or isinstance(member["changePercent"], float)

    status, listed = get(cloud, "/themes")
    assert status == 200 and block["themeId"] in {t["themeId"] for t in listed["data"]}
    status, detail = get(cloud, f"/themes/{block['themeId']}")
    assert status == 200
    [why] = detail["data"]["members"]
    assert why["reason"] and why["headlines"] and why["since"]
    assert {h["source"] for h in why["headlines"]} == {"simulated"}  # the stand-in's articles, labelled
    assert all(h["url"].startswith("http") for h in why["headlines"])
    status, cost = get(cloud, "/themes/metrics")
    assert status == 200 and cost["data"]["classifications"] >= 1 and cost["data"]["llmCalls"] == 0
    status, missing = get(cloud, "/themes/999999")
    assert (status, missing["code"]) == (404, "NOT_FOUND")


def test_poison_messages_end_in_the_dead_letter_queue(cloud, sqs):
    poison = [
        "not json",
        json.dumps(["a"]),
        json.dumps({"symbol": "999999", "day": today()}),
        json.dumps({"symbol": SYMBOL, "day": "yesterday"}),
    ]
    for body in poison:
        sqs.send_message(QueueUrl=cloud.provisioned.queue_urls["ThemeClassifyQueue"], MessageBody=body)
    dlq = cloud.provisioned.queue_urls["ThemeClassifyDeadLetterQueue"]
    assert sorted(parked(sqs, dlq, len(poison), "the poison messages in the DLQ")) == sorted(poison)
