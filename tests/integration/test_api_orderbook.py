"""GET /companies/{companyId}/orderbook through real API Gateway events: the streamer's latest book from
Redis when there is one, else a KIS REST snapshot (cached for the next caller), and its errors."""

from __future__ import annotations

import json

import pytest
import redis
from support.envs import environment
from support.kis import forget_kis_tokens
from support.streamer import simulator
from support.users import company_id

from kstock import keys
from kstock_local.embedded import free_port
from kstock_local.kis_sim.ticksize import step_up

STREAMED = {
    "type": "orderbook",
    "symbol": "005930",
    "asks": [[71100, 40], [71200, 15]],
    "bids": [[71000, 22], [70900, 9]],
    "totalAskQty": 55,
    "totalBidQty": 31,
    "timestamp": "2026-11-20T01:00:00.250Z",
    "source": "ws",
}


@pytest.fixture(scope="module")
def kis(services):
    """A simulator this process's KIS client talks to (the route runs in-process here)."""
    forget_kis_tokens()
    thread = simulator(rate=0)
    sim = thread.start()
    with environment(KIS_REST_URL=sim.rest_url):
        yield sim
    thread.stop()
    forget_kis_tokens()


@pytest.fixture
def r(services) -> redis.Redis:
    return redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)


def test_a_streamed_book_is_answered_from_redis(api, database, r):
    r.set(keys.latest_orderbook("005930"), json.dumps(STREAMED), ex=30)
    samsung = company_id(database, "005930")
    status, body, _ = api("GET", f"/companies/{samsung}/orderbook")
    assert status == 200, body
    data = body["data"]
    assert data == {
        "companyId": samsung,
        "symbol": "005930",
        "asks": STREAMED["asks"],
        "bids": STREAMED["bids"],
        "totalAskQty": 55,
        "totalBidQty": 31,
        "timestamp": STREAMED["timestamp"],
        "source": "ws",
    }


def test_without_a_stream_a_rest_snapshot_answers_and_is_cached(api, database, r, kis):
    r.delete(keys.latest_orderbook("000660"))
    hynix = company_id(database, "000660")
    status, body, _ = api("GET", f"/companies/{hynix}/orderbook")
    assert status == 200, body
    data = body["data"]
    assert data["source"] == "poll" and data["symbol"] == "000660"
    asks, bids = [p for p, _ in data["asks"]], [p for p, _ in data["bids"]]
    assert len(asks) == len(bids) == 10 and asks[0] > bids[0]
    assert all(step_up(lower) == higher for lower, higher in zip(asks, asks[1:], strict=False)), asks
    assert all(step_up(lower) == higher for higher, lower in zip(bids, bids[1:], strict=False)), bids
    assert data["totalAskQty"] == sum(q for _, q in data["asks"])
    cached = json.loads(r.get(keys.latest_orderbook("000660")))
    assert cached["source"] == "poll" and cached["asks"] == data["asks"]
    assert 0 < r.ttl(keys.latest_orderbook("000660")) <= 10


def test_unknown_company_is_404(api):
    status, body, _ = api("GET", "/companies/999999999/orderbook")
    assert (status, body["code"]) == (404, "NOT_FOUND")


def test_no_book_but_no_error_when_neither_redis_nor_kis_has_one(api, database, r):
    r.delete(keys.latest_orderbook("051910"))
    lg = company_id(database, "051910")
    with environment(KIS_REST_URL=f"http://127.0.0.1:{free_port()}", KIS_REST_MAX_ATTEMPTS="1", KIS_REST_TIMEOUT="1"):
        status, body, _ = api("GET", f"/companies/{lg}/orderbook")
    assert status == 200, body
    assert body["data"] == {
        "companyId": lg,
        "symbol": "051910",
        "asks": [],
        "bids": [],
        "totalAskQty": None,
        "totalBidQty": None,
        "timestamp": None,
        "source": None,
    }
    assert r.get(keys.latest_orderbook("051910")) is None  # nothing cached: the next request asks KIS again
