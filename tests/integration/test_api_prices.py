"""GET /companies/{id}/ohlcv and GET /realtime-prices/polling through real API Gateway events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
from support.envs import environment
from support.kis import forget_kis_tokens
from support.streamer import simulator
from support.users import company_id

from kstock import keys
from kstock.ticks.ohlcv import rollup
from kstock_local.embedded import free_port


@pytest.fixture(scope="module")
def ticks(database):
    """Trades of 005930 a second ago and 20 minutes ago, so bars are closed and (usually) open.

    Yields the newest trade's time: whichever minute the request lands in, the last bar is that
    trade's minute (stored by the roll-up, or computed live while it is still open)."""
    now = datetime.now(UTC)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("SELECT ensure_tick_partitions(%s, 2)", ((now - timedelta(days=1)).date(),))
        conn.execute("DELETE FROM stock_ticks WHERE symbol = '005930'")
        rows = [
            (now - timedelta(minutes=20), 70000, 5, "t-old-1"),
            (now - timedelta(minutes=20), 70100, 1, "t-old-2"),
            (now - timedelta(seconds=1), 71000, 3, "t-new-1"),
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO stock_ticks (time, symbol, price, volume, stream_id) VALUES (%s, '005930', %s, %s, %s)",
                rows,
            )
        rollup(conn, now=now, lookback_minutes=30)  # what OhlcvRollupFunction does every minute
    yield now - timedelta(seconds=1)
    with psycopg.connect(database, autocommit=True) as conn:
        for table in ("stock_ticks", "ohlcv_1m", "ohlcv_15m", "ohlcv_1h", "ohlcv_1d"):
            conn.execute(f"DELETE FROM {table} WHERE symbol = '005930'")


def test_ohlcv_answers_bars_ascending_with_the_open_bucket(api, database, ticks):
    samsung = company_id(database, "005930")
    start = (ticks - timedelta(hours=1)).isoformat()
    status, body, _ = api("GET", f"/companies/{samsung}/ohlcv", query={"interval": "1m", "start": start})
    assert status == 200
    bars = body["data"]
    assert [b["time"] for b in bars] == sorted(b["time"] for b in bars) and len(bars) >= 2
    assert set(bars[0]) == {"time", "open", "high", "low", "close", "volume", "amount"}
    assert (bars[0]["open"], bars[0]["close"], bars[0]["volume"]) == (70000, 70100, 6)
    assert bars[-1]["close"] == 71000 and bars[-1]["time"] == int(ticks.timestamp()) // 60 * 60  # the trade's minute
    status, daily, _ = api("GET", f"/companies/{samsung}/ohlcv", query={"interval": "1d"})
    assert status == 200 and daily["data"][-1]["close"] == 71000


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"interval": "5m"}, "interval"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "after"),
        ({"interval": "1m", "start": "2020-01-01T00:00:00Z"}, "at most"),
    ],
)
def test_ohlcv_refuses_bad_queries(api, database, query, words):
    status, body, _ = api("GET", f"/companies/{company_id(database, '005930')}/ohlcv", query=query)
    assert (status, body["code"]) == (400, "INVALID_REQUEST") and words in body["message"]


def test_ohlcv_of_an_unknown_company_is_404(api):
    status, body, _ = api("GET", "/companies/999999/ohlcv")
    assert (status, body["code"]) == (404, "NOT_FOUND")


@pytest.fixture(scope="module")
def kis(services):
    """A simulator this process's KIS client talks to (the polling route runs in-process here)."""
    forget_kis_tokens()
    thread = simulator(rate=0)
    sim = thread.start()
    with environment(KIS_REST_URL=sim.rest_url):
        yield sim
    thread.stop()
    forget_kis_tokens()


def test_polling_serves_cache_first_then_kis(api, services, kis, market_snapshot):
    r = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    r.delete(keys.latest_price("000660"), keys.latest_price("035420"))
    cached = {
        "type": "tick",
        "symbol": "005930",
        "price": 71000,
        "volume": 3,
        "accVolume": 100,
        "change": 500,
        "changePercent": 0.71,
        "timestamp": "2026-11-20T01:00:00.000Z",
        "source": "ws",
    }
    r.set(keys.latest_price("005930"), json.dumps(cached), ex=30)
    status, body, _ = api(
        "GET", "/realtime-prices/polling", query={"tickers": "005930, 000660,035420", "cache_ttl": "30"}
    )
    assert status == 200, body
    data = body["data"]
    assert (data["cached"], data["fetched"], data["total"]) == (1, 2, 3)
    assert data["prices"]["005930"]["isRealtime"] is True and data["prices"]["005930"]["price"] == 71000
    fetched = data["prices"]["000660"]
    assert fetched["isRealtime"] is False and fetched["source"] == "poll" and fetched["price"] > 0
    assert 0 < r.ttl(keys.latest_price("000660")) <= 30  # cached for the next caller
    _, again, _ = api("GET", "/realtime-prices/polling", query={"tickers": "000660"})
    assert (again["data"]["cached"], again["data"]["fetched"]) == (1, 0)


def test_polling_can_leave_out_elw(api, kis):
    status, body, _ = api("GET", "/realtime-prices/polling", query={"tickers": "005930,57LA24", "include_elw": "false"})
    assert status == 200 and body["data"]["skipped"] == ["57LA24"] and "57LA24" not in body["data"]["prices"]


@pytest.mark.parametrize("tickers", ["0059300001", "005930,ABCDEF", ""])
def test_polling_names_invalid_tickers(api, tickers):
    status, body, _ = api("GET", "/realtime-prices/polling", query={"tickers": tickers})
    assert status == 400 and body["code"] in ("INVALID_REQUEST", "MISSING_FIELD")
    for code in filter(None, tickers.split(",")):
        if code != "005930":
            assert code in body["message"]


def test_polling_is_503_when_neither_cache_nor_kis_answers(api, services):
    r = redis.Redis.from_url(services["REDIS_URL"])
    r.delete(keys.latest_price("051910"))
    with environment(KIS_REST_URL=f"http://127.0.0.1:{free_port()}", KIS_REST_MAX_ATTEMPTS="1", KIS_REST_TIMEOUT="1"):
        status, body, _ = api("GET", "/realtime-prices/polling", query={"tickers": "051910"})
    assert (status, body["code"]) == (503, "STREAM_UNAVAILABLE")
