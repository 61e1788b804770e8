"""Contract tests: the kstock KIS client against the simulator, over real sockets."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from support.kis import auth, credentials, on_sim, overridden, rest_client, run, running_simulator

from kstock import keys, provenance
from kstock.kis.auth import KisAuth, RedisTokenStore
from kstock.kis.connection import KisWebSocket
from kstock.kis.errors import KisAppKeyInUse, KisMaxSubscriptions, KisNotFound, KisTokenIssueLimited


@pytest.fixture(scope="module")
def simt():
    with running_simulator() as thread:
        yield thread


# -- tokens and approval -------------------------------------------------------------------------


def test_token_is_persisted_in_redis_and_shared(services, simt):
    from kstock import cache

    sim, creds = simt.sim, credentials()
    first = KisAuth(creds, sim.rest_url, store=RedisTokenStore(creds.app_id))
    second = KisAuth(creds, sim.rest_url, store=RedisTokenStore(creds.app_id))  # another process, same key
    assert first.access_token() == second.access_token()
    assert (first.tokens_issued, second.tokens_issued) == (1, 0)
    redis = cache.client()
    assert 86_000 < redis.ttl(keys.kis_token(creds.app_id)) <= 86_400
    assert creds.app_key not in keys.kis_token(creds.app_id)  # key names never carry the app key

    # Cache lost but the issue guard still set: no second issue within the minute (and no call to KIS).
    redis.delete(keys.kis_token(creds.app_id))
    refusals = sim.stats.token_refusals
    third = KisAuth(creds, sim.rest_url, store=RedisTokenStore(creds.app_id), max_issue_wait=0.3)
    with pytest.raises(KisTokenIssueLimited):
        third.access_token()
    assert third.tokens_issued == 0 and sim.stats.token_refusals == refusals


def test_egw00133_from_kis_is_surfaced_after_waiting(simt):
    creds = credentials()
    assert auth(simt.sim, creds).access_token()  # issued elsewhere, our store does not know
    late = auth(simt.sim, creds, max_issue_wait=0.4)
    with pytest.raises(KisTokenIssueLimited):
        late.access_token()
    assert simt.sim.stats.token_refusals >= 1


def test_expired_token_is_reissued_once(simt):
    with overridden(simt, token_issue_interval=0.3):
        client = rest_client(simt.sim, token_min_interval=0.3)
        assert client.inquire_price("005930").price > 0
        simt.call(lambda s: s.expire_tokens())
        expired_before = simt.sim.stats.expired_token_answers
        assert client.inquire_price("005930").price > 0
        assert client.auth.tokens_issued == 2
        assert simt.sim.stats.expired_token_answers == expired_before + 1


def test_approval_key(simt):
    a = auth(simt.sim)
    before = simt.sim.stats.approvals_issued
    key = a.approval_key()
    assert key and a.approval_key() == key  # cached
    assert a.approval_key(fresh=True) != key
    assert simt.sim.stats.approvals_issued == before + 2


# -- REST calls ----------------------------------------------------------------------------------


def test_current_price_and_daily_prices(simt):
    client = rest_client(simt.sim)
    quote = client.inquire_price("005930")
    assert isinstance(quote.price, int) and isinstance(quote.change_percent, Decimal)
    assert quote.lower_limit <= quote.low <= quote.price <= quote.high <= quote.upper_limit
    assert quote.change == quote.price - quote.prev_close and quote.tick_size == 100
    bars = client.daily_prices("005930")
    assert len(bars) == 30 and [b.day for b in bars] == sorted({b.day for b in bars})
    assert all(isinstance(b.day, date) and b.low <= b.close <= b.high for b in bars)
    with pytest.raises(KisNotFound):
        client.inquire_price("999999")


def test_the_simulators_answers_say_they_are_simulated(simt):
    """The label users see (/health streamer.kisSource, the live page) is read off the simulator's answers."""
    provenance.note_kis_answer({})  # as if real KIS had answered last
    assert provenance.kis_source() == "kis"
    rest_client(simt.sim).inquire_price("005930")
    assert provenance.kis_source() == "simulated"


def test_period_chart_pages_over_100_row_windows(simt):
    client = rest_client(simt.sim)
    end = simt.sim.market.session_day
    start = end - timedelta(days=730)
    requests_before = simt.sim.stats.rest_requests
    chart = client.period_chart("000660", start, end)
    assert simt.sim.stats.rest_requests - requests_before >= 5  # ~490 trading days / 100 rows
    days = [b.day for b in chart.bars]
    assert days == sorted(set(days)) and days[0] <= start + timedelta(days=7) and len(days) >= 480
    assert chart.summary is not None and chart.summary.name == "SK하이닉스"
    assert chart.bars[-1].close == chart.summary.price or chart.bars[-1].day < end
    weekly = client.period_chart("000660", start, end, period="W")
    assert 95 <= len(weekly.bars) <= 110


def test_rankings(simt):
    client = rest_client(simt.sim)
    movers = client.fluctuation_rank()
    assert len(movers) == 30 and [m.rank for m in movers] == list(range(1, 31))
    assert [m.change_percent for m in movers] == sorted((m.change_percent for m in movers), reverse=True)
    assert all(m.name and len(m.symbol) == 6 for m in movers)
    kosdaq = client.fluctuation_rank(market="1001")
    assert {simt.sim.market.stocks[m.symbol].market for m in kosdaq} == {"KOSDAQ"}
    by_volume = client.volume_rank()
    assert [v.volume for v in by_volume] == sorted((v.volume for v in by_volume), reverse=True)
    assert by_volume[0].prev_volume is not None and by_volume[0].traded_value
    caps = client.market_cap_rank()
    assert caps[0].market_cap_100m and caps[0].market_cap_100m >= caps[-1].market_cap_100m
    assert caps[0].market_share_percent and caps[0].market_share_percent > 0


def test_indices_and_elw(simt):
    client = rest_client(simt.sim)
    kospi, kosdaq = client.index_price("0001"), client.index_price("1001")
    assert isinstance(kospi.value, Decimal) and kospi.value > kosdaq.value > 0
    assert kospi.low <= kospi.value <= kospi.high
    assert kospi.advancing + kospi.declining + kospi.unchanged + kospi.upper_limit + kospi.lower_limit > 100
    recent = client.index_daily_prices("0001")
    assert len(recent) >= 90 and recent == sorted(recent, key=lambda b: b.day)
    end = simt.sim.market.session_day
    chart = client.index_chart("1001", end - timedelta(days=730), end)
    assert len(chart) >= 480 and isinstance(chart[0].close, Decimal)
    elw = client.elw_price("57LA24")
    assert elw.price > 0 and elw.underlying_symbol == "005930" and elw.strike
    with pytest.raises(KisNotFound):
        client.elw_price("005930")


def test_rate_limit_answers_are_retried_with_backoff(simt):
    client = rest_client(simt.sim, rate_per_second=100.0, max_attempts=40, backoff=0.05, backoff_max=0.4)
    client.auth.access_token()
    limited_before = simt.sim.stats.rate_limited
    with overridden(simt, rest_rate_per_second=4), ThreadPoolExecutor(8) as pool:
        quotes = list(pool.map(lambda _: client.index_price("0001"), range(10)))
    assert len(quotes) == 10 and all(q.value > 0 for q in quotes)
    assert simt.sim.stats.rate_limited > limited_before
    assert client.rate_limited_retries > 0


# -- WebSocket -----------------------------------------------------------------------------------


def _ws(simt, creds=None, **kwargs) -> KisWebSocket:
    kwargs.setdefault("reconnect_initial", 0.05)
    kwargs.setdefault("reconnect_max", 0.5)
    return KisWebSocket(simt.sim.ws_url + "/tryitout", auth(simt.sim, creds), **kwargs)


async def _batch(ws: KisWebSocket, predicate, timeout: float = 10.0):
    async def first():
        async for batch in ws.batches():
            if predicate(batch):
                return batch

    return await asyncio.wait_for(first(), timeout)


def test_subscribe_ack_duplicate_and_multi_record_frames(simt):
    async def body() -> None:
        async with _ws(simt) as ws:
            await ws.subscribe("H0STCNT0", "005930")
            await ws.subscribe("H0UPCNT0", "0001")
            state = ws.snapshot()
            assert state.connected and state.subscriptions == {("H0STCNT0", "005930"), ("H0UPCNT0", "0001")}
            await ws._request(ws._ws, ("H0STCNT0", "005930"), subscribe=True)  # OPSP0002 counts as success
            await on_sim(simt, lambda s: s.emit_trades("005930", 5))
            batch = await _batch(ws, lambda b: len(b) >= 5 and b[0].symbol == "005930")
            assert [t.acc_volume for t in batch] == sorted(t.acc_volume for t in batch)
            assert all(
                t.timestamp.tzinfo == UTC and abs(t.timestamp - datetime.now(UTC)) < timedelta(seconds=5) for t in batch
            )
            index = await _batch(ws, lambda b: b[0].tr_id == "H0UPCNT0")
            assert index[0].symbol == "0001" and isinstance(index[0].price, Decimal)
            await ws.unsubscribe("H0UPCNT0", "0001")
            assert ws.snapshot().subscriptions == {("H0STCNT0", "005930")}

    run(body())


def test_subscription_limit_local_and_opsp0008(simt):
    symbols = list(simt.sim.market.stocks)[:42]

    async def body() -> None:
        async with _ws(simt, max_subscriptions=None) as ws:  # no local cap: KIS's OPSP0008 decides
            await ws.wait_until(lambda s: s.connected, 5)
            for symbol in symbols[:41]:
                await ws.subscribe("H0STCNT0", symbol)
            with pytest.raises(KisMaxSubscriptions) as refused:
                await ws.subscribe("H0STCNT0", symbols[41])
            assert refused.value.code == "OPSP0008"
            assert len(ws.snapshot().wanted) == 41 and len(ws.snapshot().subscriptions) == 41
        capped = _ws(simt, max_subscriptions=2)
        await capped.subscribe("H0STCNT0", symbols[0], wait=False)
        await capped.subscribe("H0STCNT0", symbols[1], wait=False)
        with pytest.raises(KisMaxSubscriptions):
            await capped.subscribe("H0STCNT0", symbols[2])

    run(body())


def test_second_session_of_an_app_key_is_refused(simt):
    creds = credentials()

    async def body() -> None:
        async with _ws(simt, creds) as first, _ws(simt, creds) as second:
            await first.wait_until(lambda s: s.connected, 5)
            await first.subscribe("H0STCNT0", "005930")
            await second.wait_until(lambda s: s.connected, 5)
            with pytest.raises(KisAppKeyInUse) as refused:
                await second.subscribe("H0STCNT0", "000660")
            assert refused.value.code == "OPSP8996"
            assert first.snapshot().subscriptions == {("H0STCNT0", "005930")}

    run(body())


@pytest.mark.parametrize("reply", ["echo", "pong"])
def test_pingpong_is_answered_both_ways(reply):
    with running_simulator(pingpong_interval=0.15) as fast:
        counter = "pongs_echo" if reply == "echo" else "pongs_frame"

        async def body() -> None:
            async with _ws(fast, pingpong_reply=reply) as ws:
                await ws.subscribe("H0STCNT0", "005930")
                # The 4th PINGPONG comes after the simulator checked the answers to the first three.
                state = await ws.wait_until(lambda s: s.pingpongs >= 4, 10)
                assert state.connects == 1 and state.connected  # never dropped for silence

        run(body())
        assert getattr(fast.sim.stats, counter) >= 3
        assert fast.sim.stats.sessions_dropped_pingpong == 0


def test_drifted_and_garbage_frames_do_not_break_the_reader(simt):
    async def body() -> None:
        async with _ws(simt) as ws:
            await ws.subscribe("H0STCNT0", "035720")
            for junk in ("garbage", "0|H0STCNT0|002|1^2^3", "{not json", "1|H0STCNT0|001|AAAA", "0|H0STCNT0|001|"):
                await on_sim(simt, lambda s, j=junk: s.send_raw(j))
            await on_sim(simt, lambda s: s.set_extra_fields(3))
            try:
                await on_sim(simt, lambda s: s.emit_trades("035720", 3))
                batch = await _batch(ws, lambda b: len(b) >= 3)
            finally:
                await on_sim(simt, lambda s: s.set_extra_fields(0))
            expected = simt.sim.market.stocks["035720"]
            assert batch[-1].price == expected.price and batch[-1].acc_volume <= expected.acc_volume
            state = ws.snapshot()
            assert state.drift == {"H0STCNT0": 49}
            assert state.malformed_frames >= 5 and state.connects == 1 and state.connected

    run(body())


def test_reconnect_restores_every_subscription(simt):
    wanted = {("H0STCNT0", "005930"), ("H0STCNT0", "000660"), ("H0EWCNT0", "57LA24"), ("H0UPCNT0", "1001")}

    async def body() -> None:
        async with _ws(simt) as ws:
            for tr_id, key in sorted(wanted):
                await ws.subscribe(tr_id, key)
            assert ws.snapshot().subscriptions == wanted
            dropped = await on_sim(simt, lambda s: s.drop_all_sockets())
            assert dropped >= 1
            state = await ws.wait_until(lambda s: s.connects >= 2 and s.connected and s.subscriptions == wanted, 15)
            assert state.disconnects >= 1 and state.wanted == wanted
            await on_sim(simt, lambda s: s.emit_trades("000660", 2))
            batch = await _batch(ws, lambda b: b[0].symbol == "000660")
            assert batch[0].tr_id == "H0STCNT0"

    run(body())
