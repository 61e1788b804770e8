"""The KIS simulator, driven by plain HTTP/WebSocket clients written to docs/kis-protocol.md (no kstock client)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets
from support.kis import credentials, on_sim, overridden, run, running_simulator, sim_config
from support.waiting import Deadline, wait_for

from kstock.market.calendar import KST
from kstock_local.kis_sim import SimulatorConfig, SimulatorThread
from kstock_local.kis_sim.market import Market
from kstock_local.kis_sim.ticksize import price_limits, round_to_tick, tick_size


@pytest.fixture(scope="module")
def simt():
    with running_simulator() as thread:
        yield thread


def _token(base: str, creds) -> requests.Response:
    return requests.post(
        f"{base}/oauth2/tokenP",
        json={"grant_type": "client_credentials", "appkey": creds.app_key, "appsecret": creds.app_secret},
        timeout=5,
    )


def _approval(base: str, creds) -> str:
    r = requests.post(
        f"{base}/oauth2/Approval",
        json={"grant_type": "client_credentials", "appkey": creds.app_key, "secretkey": creds.app_secret},
        timeout=5,
    )
    assert r.status_code == 200
    return r.json()["approval_key"]


def _headers(creds, token: str, tr_id: str) -> dict[str, str]:
    return {
        "authorization": f"Bearer {token}",
        "appkey": creds.app_key,
        "appsecret": creds.app_secret,
        "tr_id": tr_id,
        "custtype": "P",
        "content-type": "application/json; charset=utf-8",
    }


# -- REST ----------------------------------------------------------------------------------------


def test_token_issue_and_the_one_per_minute_rule(simt):
    base, creds = simt.sim.rest_url, credentials()
    first = _token(base, creds)
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 86_000
    datetime.strptime(body["access_token_token_expired"], "%Y-%m-%d %H:%M:%S")
    again = _token(base, creds)
    assert again.status_code == 403
    assert again.json()["error_code"] == "EGW00133"
    bad = requests.post(
        f"{base}/oauth2/tokenP", json={"grant_type": "client_credentials", "appkey": "x", "appsecret": ""}, timeout=5
    )
    assert bad.status_code == 403 and bad.json()["error_code"] == "EGW00105"


def test_approval_needs_secretkey_not_appsecret(simt):
    base, creds = simt.sim.rest_url, credentials()
    assert len(_approval(base, creds)) >= 32
    wrong = requests.post(
        f"{base}/oauth2/Approval",
        json={"grant_type": "client_credentials", "appkey": creds.app_key, "appsecret": creds.app_secret},
        timeout=5,
    )
    assert wrong.status_code == 403


def test_quotation_envelope_headers_and_errors(simt):
    base, creds = simt.sim.rest_url, credentials()
    token = _token(base, creds).json()["access_token"]
    url = f"{base}/uapi/domestic-stock/v1/quotations/inquire-price"
    ok = requests.get(
        url,
        params={"fid_cond_mrkt_div_code": "J", "fid_input_iscd": "005930"},  # lower-case keys
        headers=_headers(creds, token, "FHKST01010100"),
        timeout=5,
    )
    assert ok.status_code == 200 and ok.headers["tr_id"] == "FHKST01010100"
    body = ok.json()
    assert (body["rt_cd"], body["msg_cd"]) == ("0", "MCA00000")
    assert isinstance(body["output"]["stck_prpr"], str) and int(body["output"]["stck_prpr"]) > 0

    params = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
    bad_token = requests.get(url, params=params, headers=_headers(creds, "nope", "FHKST01010100"), timeout=5)
    assert bad_token.status_code == 500 and bad_token.json()["msg_cd"] == "EGW00121"
    wrong_tr = requests.get(url, params=params, headers=_headers(creds, token, "FHKST01010400"), timeout=5)
    assert wrong_tr.json()["rt_cd"] == "1"
    unknown = requests.get(
        url, params={**params, "FID_INPUT_ISCD": "999999"}, headers=_headers(creds, token, "FHKST01010100"), timeout=5
    )
    assert unknown.json()["rt_cd"] == "1"

    simt.call(lambda s: s.expire_tokens())
    expired = requests.get(url, params=params, headers=_headers(creds, token, "FHKST01010100"), timeout=5)
    assert expired.status_code == 500 and expired.json()["msg_cd"] == "EGW00123"


def test_rest_rate_limit_answers_egw00201(simt):
    base, creds = simt.sim.rest_url, credentials()
    token = _token(base, creds).json()["access_token"]
    url = f"{base}/uapi/domestic-stock/v1/quotations/inquire-index-price"
    with overridden(simt, rest_rate_per_second=3):
        answers = [
            requests.get(
                url,
                params={"FID_COND_MRKT_DIV_CODE": "U", "FID_INPUT_ISCD": "0001"},
                headers=_headers(creds, token, "FHPUP02100000"),
                timeout=5,
            )
            for _ in range(6)
        ]
    codes = [(a.status_code, a.json()["msg_cd"]) for a in answers]
    assert (500, "EGW00201") in codes and (200, "MCA00000") in codes
    assert answers[0].json()["output"]["bstp_nmix_prpr"]


# -- WebSocket -----------------------------------------------------------------------------------


def _sub(approval: str, tr_id: str, tr_key: str, tr_type: str = "1") -> str:
    return json.dumps(
        {
            "header": {"approval_key": approval, "custtype": "P", "tr_type": tr_type, "content-type": "utf-8"},
            "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
        }
    )


async def _control(ws, payload: str) -> dict:
    """Send and return the next control (JSON) answer, skipping data frames and PINGPONG."""
    await ws.send(payload)
    while True:
        raw = await ws.recv()
        if raw.startswith("{") and "PINGPONG" not in raw:
            return json.loads(raw)


def test_websocket_registration_rules(simt):
    sim, creds = simt.sim, credentials()
    approval = _approval(sim.rest_url, creds)
    symbols = list(sim.market.stocks)[:42]

    async def body() -> None:
        for path in ("", "/tryitout", "/tryitout/H0STCNT0"):  # every documented path is accepted
            async with websockets.connect(sim.ws_url + path) as probe:
                answer = await _control(probe, "{not json")
                assert answer["body"]["msg_cd"] == "OPSP9999"
        async with websockets.connect(sim.ws_url + "/tryitout") as ws:
            ack = await _control(ws, _sub(approval, "H0STCNT0", symbols[0]))
            assert ack["header"] == {"tr_id": "H0STCNT0", "tr_key": symbols[0], "encrypt": "N"}
            assert (ack["body"]["rt_cd"], ack["body"]["msg_cd"]) == ("0", "OPSP0000")
            assert len(ack["body"]["output"]["iv"]) == 16 and len(ack["body"]["output"]["key"]) == 32
            dup = await _control(ws, _sub(approval, "H0STCNT0", symbols[0]))
            assert dup["body"]["msg_cd"] == "OPSP0002" and dup["body"]["msg1"] == "ALREADY IN SUBSCRIBE"
            for symbol in symbols[1:41]:
                assert (await _control(ws, _sub(approval, "H0STCNT0", symbol)))["body"]["msg_cd"] == "OPSP0000"
            over = await _control(ws, _sub(approval, "H0STCNT0", symbols[41]))  # the 42nd registration
            assert (over["body"]["rt_cd"], over["body"]["msg_cd"], over["body"]["msg1"]) == (
                "1",
                "OPSP0008",
                "MAX SUBSCRIBE OVER",
            )
            released = await _control(ws, _sub(approval, "H0STCNT0", symbols[0], "2"))
            assert released["body"]["msg_cd"] == "OPSP0001"
            assert (await _control(ws, _sub(approval, "H0STCNT0", symbols[0], "2")))["body"]["msg_cd"] == "OPSP0003"
            assert (await _control(ws, _sub(approval, "H0ZZZZZ0", "005930")))["body"]["msg_cd"] == "OPSP8991"
            assert (await _control(ws, _sub(approval, "H0STCNT0", "999999")))["body"]["msg_cd"] == "OPSP8992"
            assert (await _control(ws, _sub("unknown", "H0STCNT0", symbols[0])))["body"]["msg_cd"] == "OPSP0011"

            async with websockets.connect(sim.ws_url) as second:  # same app key, second session
                other = await _control(second, _sub(_approval(sim.rest_url, creds), "H0STCNT0", symbols[1]))
                assert (other["body"]["msg_cd"], other["body"]["msg1"]) == ("OPSP8996", "ALREADY IN USE appkey")

    run(body())


def test_multi_record_frames_and_drift_hook(simt):
    sim, creds = simt.sim, credentials()
    approval = _approval(sim.rest_url, creds)

    async def body() -> None:
        async with websockets.connect(sim.ws_url + "/tryitout") as ws:
            await _control(ws, _sub(approval, "H0STCNT0", "035720"))
            await on_sim(simt, lambda s: s.emit_trades("035720", 4))
            while True:
                raw = await ws.recv()
                flag, tr_id, count, payload = raw.split("|", 3)
                if int(count) >= 4:
                    break
            assert (flag, tr_id) == ("0", "H0STCNT0")
            assert len(payload.split("^")) == int(count) * 46
            await on_sim(simt, lambda s: s.set_extra_fields(3))
            try:
                await on_sim(simt, lambda s: s.emit_trades("035720", 2))
                while True:
                    raw = await ws.recv()
                    if not raw.startswith("{") and len(raw.split("|", 3)[3].split("^")) % 49 == 0:
                        break
            finally:
                await on_sim(simt, lambda s: s.set_extra_fields(0))

    run(body())


def _pingpong_body(simt, answer: str | None) -> None:
    sim, creds = simt.sim, credentials()
    approval = _approval(sim.rest_url, creds)

    async def body() -> None:
        async with websockets.connect(sim.ws_url, ping_interval=None) as ws:
            await _control(ws, _sub(approval, "H0STCNT0", "005930"))
            pings = 0
            try:
                while pings < 3:
                    raw = await asyncio.wait_for(ws.recv(), 5)
                    if "PINGPONG" in raw:
                        pings += 1
                        assert json.loads(raw)["header"]["datetime"]
                        if answer == "echo":
                            await ws.send(raw)
                        elif answer == "pong":
                            await ws.pong(raw.encode())
            except websockets.ConnectionClosed:
                assert answer is None, "an answered session must stay up"
                return
            assert answer is not None, "an unanswered session must be dropped"

    run(body())


@pytest.mark.parametrize("answer", ["echo", "pong", None])
def test_pingpong_answered_by_echo_or_pong_frame_else_dropped(answer):
    with running_simulator(pingpong_interval=0.15) as simt:
        before = simt.call(lambda s: (s.stats.pongs_echo, s.stats.pongs_frame, s.stats.sessions_dropped_pingpong))
        _pingpong_body(simt, answer)
        after = simt.call(lambda s: (s.stats.pongs_echo, s.stats.pongs_frame, s.stats.sessions_dropped_pingpong))
    if answer == "echo":
        assert after[0] - before[0] >= 2
    elif answer == "pong":
        assert after[1] - before[1] >= 2
    else:
        assert after[2] - before[2] == 1


def test_pingpong_comes_every_interval_however_long_the_pong_may_take():
    """The wait for an answer runs inside the interval: added to it, PINGPONG came every 60 s, not 30."""
    with running_simulator(pingpong_interval=0.2, pong_timeout=120.0) as simt:
        sim, creds = simt.sim, credentials()
        approval = _approval(sim.rest_url, creds)

        async def body() -> None:
            async with websockets.connect(sim.ws_url, ping_interval=None) as ws:
                await _control(ws, _sub(approval, "H0STCNT0", "005930"))
                deadline = Deadline(2.0, "three PINGPONGs at a 0.2 s interval (one per 120 s pong wait before)")
                pings = 0
                while pings < 3:
                    if deadline.expired():
                        raise deadline.fail()
                    raw = await asyncio.wait_for(ws.recv(), deadline.left())
                    if "PINGPONG" in raw:
                        pings += 1
                        await ws.send(raw)

        run(body(), timeout=120)


# -- the market ----------------------------------------------------------------------------------


def test_tick_ladder_and_limits():
    assert [
        tick_size(p)
        for p in (1_999, 2_000, 4_995, 5_000, 19_990, 20_000, 49_950, 50_000, 199_900, 200_000, 499_500, 500_000)
    ] == [1, 5, 5, 10, 10, 50, 50, 100, 100, 500, 500, 1000]
    assert round_to_tick(71_537) == 71_500
    assert price_limits(71_500) == (50_100, 92_900)


def test_history_is_two_years_consistent_and_joins_today():
    market = Market(seed=99)
    day = market.session_day
    for symbol in [*list(market.stocks)[:25], *market.elws, *market.indices]:
        bars = market.history(symbol)
        assert bars[0].day <= day - timedelta(days=730), symbol
        assert len(bars) >= 480
        prev = None
        for bar in bars:
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            if symbol in market.stocks:
                assert round_to_tick(bar.close) == bar.close and round_to_tick(bar.high) == bar.high
                if prev is not None:
                    lower, upper = price_limits(int(prev))
                    assert lower <= bar.low and bar.high <= upper
            prev = bar.close
        sec = market.security(symbol)
        expected = sec.prev_close if sec is not None else market.indices[symbol].prev_close
        assert bars[-1].close == expected


def test_market_is_reproducible_from_its_seed():
    fixed = datetime(2026, 3, 10, 10, 0, tzinfo=KST)
    a, b = Market(seed=5, clock=lambda: fixed), Market(seed=5, clock=lambda: fixed)
    assert [s.prev_close for s in a.stocks.values()] == [s.prev_close for s in b.stocks.values()]
    assert a.history("005930") == b.history("005930")
    assert [(t.security.symbol, t.security.price) for t in a.step(1.0)] == [
        (t.security.symbol, t.security.price) for t in b.step(1.0)
    ]
    assert Market(seed=6, clock=lambda: fixed).history("005930") != a.history("005930")


def test_intraday_state_is_consistent_and_rankings_change():
    # 1.6 trades per stock and second over the first 244 companies, what the regimes were tuned at: the
    # market's rate is shared by the whole universe, surgers need trades to move, and in the whole market
    # (2,500 names) the warm day's movers alone fill the top 30
    market = Market(seed=3, trades_per_second=1.6 * 244, regime_seconds=20, universe=244)

    def top() -> set[str]:
        return {s.symbol for s in sorted(market.stocks.values(), key=lambda s: -s.change_percent)[:30]}

    before = top()
    volumes = {s: sec.acc_volume for s, sec in market.stocks.items()}
    traded: dict[str, int] = {}
    for _ in range(1200):
        for trade in market.step(0.1):
            traded[trade.security.symbol] = traded.get(trade.security.symbol, 0) + trade.qty
    assert len(top() - before) >= 3  # surgers entered the fluctuation top 30
    for symbol, sec in market.stocks.items():
        assert sec.acc_volume == volumes[symbol] + traded.get(symbol, 0)
        assert sec.lower <= sec.low <= sec.price <= sec.high <= sec.upper
        assert sec.low <= sec.vwap <= sec.high
        assert round_to_tick(sec.price) == sec.price


def test_a_mid_session_start_has_real_open_high_and_low_times():
    one_pm = datetime(2026, 3, 10, 13, 5, tzinfo=KST)
    market = Market(seed=2, always_open=False, clock=lambda: one_pm)
    stocks = [s for s in market.stocks.values() if s.acc_volume]
    assert stocks and {s.open_time for s in stocks} == {"090000"}
    for sec in stocks:
        for clock, extreme in ((sec.high_time, sec.high), (sec.low_time, sec.low)):
            assert "090000" <= clock <= "130500", (sec.symbol, clock)
            if extreme == sec.open:
                assert clock == sec.open_time, sec.symbol
    assert len({s.high_time for s in stocks}) > 100  # spread over the morning, not all at the open

    looping = Market(seed=2, clock=lambda: one_pm)  # always open: the session started 6.5 h-loops ago
    opened = {s.open_time for s in looping.stocks.values() if s.acc_volume}
    assert len(opened) == 1 and opened.pop() <= "130500"


def _restarted_config(tmp_path: Path, moment: datetime, **overrides: Any) -> SimulatorConfig:
    """No trades but the test's own: what was saved is exactly what the test made."""
    values = dict(
        state_file=tmp_path / "kis-sim-market.json",
        clock=lambda: moment,
        trades_per_second=0.0,
        state_save_interval=0.1,
    )
    return sim_config(**{**values, **overrides})


def test_the_market_resumes_after_a_restart_within_the_day(tmp_path):
    moment = datetime(2026, 3, 10, 11, 0, tzinfo=KST)
    first = SimulatorThread(_restarted_config(tmp_path, moment))
    first.start()
    try:
        first.call(lambda s: s.emit_trades("000660", 40))
        volume = first.call(lambda s: s.market.stocks["000660"].acc_volume)
        wait_for(lambda: _saved_volume(tmp_path, "000660") == volume, what="the periodic save of the day")
    finally:
        first.stop()  # saves the day
    before = _day_state(first.sim.market.stocks["000660"])
    assert before[4] > 0
    second = SimulatorThread(_restarted_config(tmp_path, moment))
    second.start()
    try:
        after = second.call(lambda s: _day_state(s.market.stocks["000660"]))
        assert after == before
        answer = second.call(lambda s: s.rest.inquire_price({"FID_INPUT_ISCD": "000660"}))[0]["output"]
        assert int(answer["stck_prpr"]) == before[0] and int(answer["acml_vol"]) == before[4]
    finally:
        second.stop()

    next_day = SimulatorThread(_restarted_config(tmp_path, moment + timedelta(days=1)))
    next_day.start()  # another day's file is not resumed: the new day opens at the previous close
    try:
        assert next_day.call(lambda s: s.market.stocks["000660"].acc_volume) != before[4]
    finally:
        next_day.stop()


def _saved_volume(tmp_path: Path, symbol: str) -> int | None:
    try:
        state = json.loads((tmp_path / "kis-sim-market.json").read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    row = state["securities"].get(symbol)
    return None if row is None else row[state["fields"].index("acc_volume")]


def _day_state(sec) -> tuple[int, ...]:
    return (sec.price, sec.open, sec.high, sec.low, sec.acc_volume, sec.acc_value, sec.buy_count, sec.sell_count)


def test_u_shaped_profile_and_krx_hours():
    assert Market.profile(0.0) == Market.profile(1.0) == 2.0
    assert Market.profile(0.5) == 0.5
    tuesday_10am = datetime(2026, 3, 10, 10, 0, tzinfo=KST)
    saturday = datetime(2026, 3, 14, 10, 0, tzinfo=KST)
    now = {"t": tuesday_10am}
    market = Market(seed=1, always_open=False, clock=lambda: now["t"], trades_per_second=100)
    assert market.session_day == date(2026, 3, 10)
    assert market.step(1.0)
    now["t"] = datetime(2026, 3, 10, 16, 0, tzinfo=KST)
    assert market.step(1.0) == []
    now["t"] = saturday
    assert market.step(1.0) == []
    assert Market(seed=1, always_open=False, clock=lambda: saturday).session_day == date(2026, 3, 13)
