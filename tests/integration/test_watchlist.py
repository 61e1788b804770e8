"""The watchlist (issue 15, seed 000): safety filter, buy candidates with reasons, top N by traded value into
streamer:watchlist; and a change of the watchlist changes a real streamer's KIS subscriptions."""

from __future__ import annotations

import json

import pytest
import redis
from support.demand import forget_demand
from support.envs import environment
from support.kis import rest_client, running_simulator
from support.scans import daily_bars, forget_scans, no_kis, symbols_of
from support.streamer import StreamerThread, simulator
from support.waiting import wait_for

from kstock import db, keys
from kstock.config import reload_settings
from kstock.indicators import signal
from kstock.scans import service
from kstock.scans.bars import load_bars
from kstock.watchlist import candidates, refresh, safe_symbols
from kstock_streamer.service import StreamerOptions


@pytest.fixture
def r(services):
    client = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    forget_demand(client)
    yield client
    forget_demand(client)


@pytest.fixture(scope="module")
def market(database):
    symbols = symbols_of("KOSDAQ")
    with db.transaction() as conn:  # only these companies have traded (other modules leave daily bars)
        conn.execute("DELETE FROM ohlcv_1d WHERE symbol <> ALL(%s)", (symbols,))
    with daily_bars(symbols) as bars:
        halted, warned = symbols[0], symbols[1]
        with db.transaction() as conn:
            conn.execute("UPDATE companies SET is_halted = true WHERE symbol = %s", (halted,))
            conn.execute("UPDATE companies SET is_warning = true WHERE symbol = %s", (warned,))
        with environment(SCAN_QUEUE_URL=None, WATCHLIST_MIN_TRADED_VALUE="1", **no_kis()):
            reload_settings()
            service.start_scan(service.ScanRequest(market="KOSDAQ", top_n=10))
            yield symbols, bars, halted, warned
        reload_settings()
        with db.transaction() as conn:
            conn.execute(
                "UPDATE companies SET is_halted = false, is_warning = false WHERE symbol = ANY(%s)", ([halted, warned],)
            )
    forget_scans()


def test_the_safety_filter_leaves_out_halted_warned_and_thin_trading(market):
    symbols, bars, halted, warned = market
    with db.read() as conn:
        safe = safe_symbols(conn)
        assert set(safe) == set(symbols) - {halted, warned}
        with environment(WATCHLIST_MIN_TRADED_VALUE=str(10**18)):
            reload_settings()
            assert safe_symbols(conn) == []
    reload_settings()


def test_candidates_are_scan_signals_and_daily_buy_signals_with_reasons(market):
    symbols, bars, halted, warned = market
    with db.read() as conn:
        safe = safe_symbols(conn)
        found = candidates(conn, safe)
        graded = {
            r["symbol"]
            for r in conn.execute(
                "SELECT c.symbol FROM scan_signals s JOIN companies c ON c.id = s.company_id WHERE s.valid"
            ).fetchall()
        }
        panel = load_bars(conn, safe, 120)
    combined = signal(panel.high, panel.low, panel.close, panel.volume)
    buying = {s for i, s in enumerate(safe) if combined.labels[i, -1] in ("buy", "strong buy")}
    assert set(found) == (graded & set(safe)) | buying and found
    for symbol, candidate in found.items():
        assert (symbol in graded) == any(r.startswith("scan grade") for r in candidate.reasons)
        assert (symbol in buying) == any(r.startswith("daily signal") for r in candidate.reasons)


def test_refresh_writes_the_top_n_by_traded_value_with_reasons(market, r):
    symbols, bars, halted, warned = market
    with running_simulator() as sim:
        client = rest_client(sim.sim)
        today = {e.symbol: int(e.traded_value or 0) for e in client.volume_rank(sort="3")}
    with environment(WATCHLIST_SIZE="4"):
        reload_settings()
        top = refresh(lambda: today)
    reload_settings()
    listed = r.smembers(keys.WATCHLIST)
    assert 0 < len(listed) <= 4 and listed == {c.symbol for c in top}
    assert not listed & {halted, warned}
    reasons = {s: json.loads(v) for s, v in r.hgetall(keys.WATCHLIST_REASONS).items()}
    assert set(reasons) == listed and all(v["reasons"] for v in reasons.values())
    values = [reasons[c.symbol]["tradedValue"] for c in top]
    assert (
        values == sorted(values, reverse=True) and [reasons[c.symbol]["rank"] for c in top] == [1, 2, 3, 4][: len(top)]
    )


def test_a_change_of_the_watchlist_changes_the_streamers_kis_subscriptions(services, database, r):
    sim = simulator(rate=100)
    sim.start()
    options = StreamerOptions(default_symbols=[], stable_seconds=0.5, plan_interval=0.2, poll_rate=20)
    try:
        r.sadd(keys.WATCHLIST, "005930")
        with StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options) as streamer:
            subscribed = lambda s: ("H0STCNT0", s) in streamer.websocket.snapshot().subscriptions  # noqa: E731
            wait_for(lambda: subscribed("005930"), 20, "the watchlist symbol subscribed")
            with r.pipeline(transaction=True) as pipe:
                pipe.delete(keys.WATCHLIST).sadd(keys.WATCHLIST, "000660").execute()
            wait_for(lambda: subscribed("000660"), 20, "the new watchlist symbol subscribed")
            wait_for(lambda: not subscribed("005930"), 20, "the dropped symbol unsubscribed")
            r.hset(keys.WATCHLIST_REASONS, "000660", json.dumps({"rank": 1, "tradedValue": 5, "reasons": ["why"]}))

            def reported():
                status = json.loads(r.get(keys.STREAMER_STATUS) or "{}")
                return status.get("watchlist") == [
                    {"symbol": "000660", "streamed": True, "rank": 1, "tradedValue": 5, "reasons": ["why"]}
                ]

            wait_for(reported, 20, "the streamer's status to show the watchlist and its reasons")
    finally:
        sim.stop()


def test_ws_metrics_show_the_watchlist_and_why(api, r):
    status = {
        "reportedAt": 0,
        "watchlist": [
            {
                "symbol": "005930",
                "streamed": True,
                "rank": 1,
                "tradedValue": 123_000_000_000,
                "reasons": ["scan grade A", "daily signal buy"],
            }
        ],
        "fanout": {"signals": 3},
    }
    r.set(keys.STREAMER_STATUS, json.dumps(status), ex=10)
    try:
        code, body, _ = api("GET", "/ws/metrics")
    finally:
        r.delete(keys.STREAMER_STATUS)
    assert code == 200
    assert body["data"]["watchlist"] == [
        {
            "symbol": "005930",
            "streamed": True,
            "rank": 1,
            "tradedValue": 123_000_000_000,
            "reasons": ["scan grade A", "daily signal buy"],
        }
    ]
    assert body["data"]["signals"] == 3
