"""The KIS simulator against a client written from the official samples' field lists.

The client below knows nothing of kstock: it speaks KIS as the official samples and python-kis
do (REST with KIS headers; WebSocket register JSON; data frames split on ``^`` and cut into
records of exactly the sample's field count, the record count respected) and checks what a real
client relies on: every field of the official lists present, every price on the KRX ladder (its
own table, written from KRX's rules), books ordered and consistent with the trades.
Field lists: tests/data/kis_official_fields.json (names from koreainvestment/open-trading-api).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets
from support.kis import credentials, on_sim, run, running_simulator
from support.waiting import Deadline

from kstock_local.kis_sim import SimulatorThread

OFFICIAL = json.loads((Path(__file__).resolve().parents[1] / "data" / "kis_official_fields.json").read_text("utf-8"))
TRADE_FIELDS: list[str] = OFFICIAL["H0STCNT0"]
BOOK_FIELDS: list[str] = OFFICIAL["H0STASP0"]
PRICE_FIELDS: list[str] = OFFICIAL["FHKST01010100"]
SAMPLE_SYMBOLS = ["005930", "000660"]  # the official realtime samples subscribe these
BOOK_FRAMES_WANTED = 60  # every one of them is parsed and checked
TRADE_RECORDS_WANTED = 60

# KRX 호가가격단위 since 2023-01-25, KOSPI and KOSDAQ alike: (price below, tick).
KRX_LADDER = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500), (None, 1_000))


def krx_tick(price: int) -> int:
    return next(tick for bound, tick in KRX_LADDER if bound is None or price < bound)


def on_ladder(price: int) -> bool:
    return price > 0 and price % krx_tick(price) == 0


def next_up(price: int) -> int:
    return price + krx_tick(price)


def parse_records(payload: str, count: int, fields: list[str]) -> list[dict[str, str]]:
    """python-kis style: the values must split into exactly ``count`` records of ``len(fields)``."""
    values = payload.split("^")
    assert len(values) == count * len(fields), f"{len(values)} values for {count} x {len(fields)} fields"
    width = len(fields)
    return [dict(zip(fields, values[i * width : (i + 1) * width], strict=True)) for i in range(count)]


# -- the client ----------------------------------------------------------------------------------


@dataclass
class Session:
    rest: str
    ws: str
    app_key: str
    app_secret: str
    token: str = ""

    def headers(self, tr_id: str) -> dict[str, str]:
        return {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {self.token}",
            "appkey": self.app_key,
            "appsecret": self.app_secret,
            "tr_id": tr_id,
            "custtype": "P",
        }

    def get(self, path: str, tr_id: str, params: dict[str, str]) -> requests.Response:
        return requests.get(self.rest + path, params=params, headers=self.headers(tr_id), timeout=10)

    def approval(self) -> str:
        body = {"grant_type": "client_credentials", "appkey": self.app_key, "secretkey": self.app_secret}
        return requests.post(f"{self.rest}/oauth2/Approval", json=body, timeout=10).json()["approval_key"]


def register(approval: str, tr_id: str, tr_key: str) -> str:
    header = {"approval_key": approval, "custtype": "P", "tr_type": "1", "content-type": "utf-8"}
    return json.dumps({"header": header, "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}}})


@pytest.fixture(scope="module")
def simt():
    with running_simulator(trades_per_second=200.0) as thread:
        yield thread


@pytest.fixture(scope="module")
def session(simt: SimulatorThread) -> Session:
    creds = credentials()
    s = Session(simt.sim.rest_url, simt.sim.ws_url, creds.app_key, creds.app_secret)
    body = {"grant_type": "client_credentials", "appkey": s.app_key, "appsecret": s.app_secret}
    s.token = requests.post(f"{s.rest}/oauth2/tokenP", json=body, timeout=10).json()["access_token"]
    return s


def one_symbol_per_band(simt: SimulatorThread) -> list[str]:
    """A stock in every band of the ladder, so that each tick size is exercised."""
    by_band: dict[int, str] = {}
    for symbol, sec in simt.sim.market.stocks.items():
        by_band.setdefault(krx_tick(sec.prev_close), symbol)
    return [s for s in by_band.values() if s not in SAMPLE_SYMBOLS]


# -- realtime ------------------------------------------------------------------------------------


@dataclass
class Feed:
    trades: int = 0
    books: int = 0
    last_trade: dict[str, dict[str, str]] = field(default_factory=dict)
    moved_with_trades: int = 0  # books checked against the trade just before them


def check_trade(record: dict[str, str]) -> None:
    assert set(TRADE_FIELDS) <= record.keys()
    price, ask, bid = int(record["STCK_PRPR"]), int(record["ASKP1"]), int(record["BIDP1"])
    assert on_ladder(price), f"STCK_PRPR {price} is off the ladder"
    for name, value in (("ASKP1", ask), ("BIDP1", bid)):
        assert value == 0 or on_ladder(value), f"{name} {value} is off the ladder ({record['MKSC_SHRN_ISCD']})"
    if ask and bid:
        assert ask > bid and ask == next_up(bid), f"best ask {ask} and bid {bid} are not one tick apart"
    assert price in (ask, bid), f"the trade at {price} is neither the best ask {ask} nor the best bid {bid}"
    for name in ("STCK_CNTG_HOUR", "OPRC_HOUR", "HGPR_HOUR", "LWPR_HOUR"):
        assert re.fullmatch(r"\d{6}", record[name]), (name, record[name])
    assert re.fullmatch(r"\d{8}", record["BSOP_DATE"])
    assert int(record["STCK_LWPR"]) <= price <= int(record["STCK_HGPR"])


def check_book(record: dict[str, str]) -> None:
    assert set(BOOK_FIELDS) <= record.keys()
    asks = [(int(record[f"ASKP{i}"]), int(record[f"ASKP_RSQN{i}"])) for i in range(1, 11)]
    bids = [(int(record[f"BIDP{i}"]), int(record[f"BIDP_RSQN{i}"])) for i in range(1, 11)]
    for side in (asks, bids):
        shown = [p for p, _ in side if p]
        assert shown, "a side with no level"
        assert all(on_ladder(p) for p in shown), f"off-ladder level in {shown}"
        assert all(q > 0 for p, q in side if p) and all(q == 0 for p, q in side if not p)
        assert side[: len(shown)] == [(p, q) for p, q in side if p], "an empty level between two levels"
    ask_prices = [p for p, _ in asks if p]
    bid_prices = [p for p, _ in bids if p]
    assert ask_prices == sorted(ask_prices) and len(set(ask_prices)) == len(ask_prices), "asks not ascending"
    assert bid_prices == sorted(bid_prices, reverse=True) and len(set(bid_prices)) == len(bid_prices)
    assert ask_prices[0] > bid_prices[0], "the best ask must be above the best bid"
    assert all(b == next_up(a) for a, b in zip(ask_prices, ask_prices[1:], strict=False)), "a gap in the asks"
    assert all(a == next_up(b) for a, b in zip(bid_prices, bid_prices[1:], strict=False)), "a gap in the bids"
    assert int(record["TOTAL_ASKP_RSQN"]) == sum(q for _, q in asks)
    assert int(record["TOTAL_BIDP_RSQN"]) == sum(q for _, q in bids)
    assert re.fullmatch(r"\d{6}", record["BSOP_HOUR"]) and record["HOUR_CLS_CODE"] == "0"


def check_book_follows_trade(book: dict[str, str], trade: dict[str, str]) -> None:
    """The book sent after a trade stands where the trade left it."""
    price = int(trade["STCK_PRPR"])
    assert price in (int(book["ASKP1"]), int(book["BIDP1"])), f"book {book['ASKP1']}/{book['BIDP1']} after {price}"
    assert int(book["ACML_VOL"]) == int(trade["ACML_VOL"])


def on_frame(feed: Feed, raw: str) -> None:
    flag, tr_id, count, payload = raw.split("|", 3)
    assert flag == "0" and re.fullmatch(r"\d{3}", count)
    if tr_id == "H0STCNT0":
        for record in parse_records(payload, int(count), TRADE_FIELDS):
            check_trade(record)
            feed.last_trade[record["MKSC_SHRN_ISCD"]] = record
            feed.trades += 1
    elif tr_id == "H0STASP0":
        for record in parse_records(payload, int(count), BOOK_FIELDS):
            check_book(record)
            trade = feed.last_trade.get(record["MKSC_SHRN_ISCD"])
            if trade is not None:
                check_book_follows_trade(record, trade)
                feed.moved_with_trades += 1
            feed.books += 1
    else:
        raise AssertionError(f"a frame of {tr_id}, never registered")


async def _keep_trading(simt: SimulatorThread, symbols: list[str]) -> None:
    """Trades of the watched symbols besides the market's own, so that books move within the test."""
    while True:
        for symbol in symbols:
            await on_sim(simt, lambda s, symbol=symbol: s.emit_trades(symbol, 2))
        await asyncio.sleep(0.05)


def test_realtime_trades_and_books_parse_python_kis_style(simt, session):
    symbols = SAMPLE_SYMBOLS + one_symbol_per_band(simt)
    feed = Feed()

    async def body() -> None:
        approval = session.approval()
        async with websockets.connect(session.ws + "/tryitout", ping_interval=None) as ws:
            for symbol in symbols:
                for tr_id in ("H0STCNT0", "H0STASP0"):
                    await ws.send(register(approval, tr_id, symbol))
            trading = asyncio.create_task(_keep_trading(simt, symbols))
            deadline = Deadline(20, f"{BOOK_FRAMES_WANTED} books and {TRADE_RECORDS_WANTED} trades")
            acks = 0
            try:
                while feed.books < BOOK_FRAMES_WANTED or feed.trades < TRADE_RECORDS_WANTED:
                    if deadline.expired():
                        raise deadline.fail(f": {feed}")
                    raw = await asyncio.wait_for(ws.recv(), deadline.left())
                    if raw.startswith("{"):
                        answer = json.loads(raw)
                        if answer["header"]["tr_id"] != "PINGPONG":
                            assert answer["body"]["msg_cd"] == "OPSP0000", answer
                            acks += 1
                        continue
                    on_frame(feed, raw)
            finally:
                trading.cancel()
            assert acks == 2 * len(symbols)

    run(body(), timeout=180)
    assert feed.moved_with_trades >= BOOK_FRAMES_WANTED // 2


def test_every_acknowledged_tr_publishes_and_the_rest_are_refused(simt, session):
    async def body() -> None:
        approval = session.approval()
        async with websockets.connect(session.ws, ping_interval=None) as ws:
            for tr_id in ("H0STANC0", "H0STMKO0", "H0UNCNT0", "H0NXCNT0", "H0EWASP0", "H0STCNI0"):
                await ws.send(register(approval, tr_id, "005930"))
                answer = await _next_control(ws)
                assert (answer["body"]["rt_cd"], answer["body"]["msg_cd"]) == ("1", "OPSP8991"), answer
            await ws.send("{not json")
            answer = await _next_control(ws)
            assert (answer["body"]["rt_cd"], answer["body"]["msg_cd"]) == ("9", "OPSP9999")
            assert answer["body"]["msg1"].startswith("JSON PARSING ERROR")

    run(body())


async def _next_control(ws: Any) -> dict[str, Any]:
    while True:
        raw = await ws.recv()
        if raw.startswith("{") and "PINGPONG" not in raw:
            return json.loads(raw)


# -- REST ----------------------------------------------------------------------------------------

QUOTE = "/uapi/domestic-stock/v1/quotations"
DATE_FIELDS = {name for name in PRICE_FIELDS if name.endswith("_date")}
TEXT_FIELDS = {
    "iscd_stat_cls_code",
    "rprs_mrkt_kor_name",
    "new_hgpr_lwpr_cls_code",
    "bstp_kor_isnm",
    "grmn_rate_cls_code",
    "prdy_vrss_sign",
    "stck_shrn_iscd",
    "fcam_cnnm",
    "cpfn_cnnm",
    "mrkt_warn_cls_code",
    "stac_month",
}
FLAG_FIELDS = {name for name in PRICE_FIELDS if name.endswith(("_yn", "vi_cls_code"))} | {"mang_issu_cls_code"}
PRICE_ON_LADDER = ("stck_prpr", "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_mxpr", "stck_llam", "stck_sdpr")


@pytest.mark.parametrize("symbol", SAMPLE_SYMBOLS)
def test_inquire_price_answers_every_field_of_the_official_sample(session, symbol):
    answer = session.get(
        f"{QUOTE}/inquire-price", "FHKST01010100", {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": symbol}
    )
    body = answer.json()
    assert answer.status_code == 200 and body["rt_cd"] == "0"
    output = body["output"]
    missing = [name for name in PRICE_FIELDS if name not in output]
    assert not missing, f"inquire-price lacks {missing}"
    for name in PRICE_FIELDS:
        value = output[name]
        assert isinstance(value, str), name
        if name in DATE_FIELDS:
            assert re.fullmatch(r"\d{8}", value), (name, value)
        elif name in FLAG_FIELDS:
            assert value in ("Y", "N"), (name, value)
        elif name not in TEXT_FIELDS:
            assert re.fullmatch(r"-?\d+(\.\d+)?", value), (name, value)  # a number sent as a string
    for name in PRICE_ON_LADDER:
        assert on_ladder(int(output[name])), f"{name} {output[name]} is off the ladder"
    assert int(output["aspr_unit"]) == krx_tick(int(output["stck_prpr"]))
    price = int(output["stck_prpr"])
    for window in ("w52", "d250"):
        assert int(output[f"{window}_lwpr"]) <= price <= int(output[f"{window}_hgpr"])
    assert int(output["stck_dryy_lwpr"]) <= price <= int(output["stck_dryy_hgpr"])


def test_the_book_snapshot_is_the_realtime_book(session):
    body = session.get(
        f"{QUOTE}/inquire-asking-price-exp-ccn",
        "FHKST01010200",
        {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
    ).json()
    assert body["rt_cd"] == "0"
    book = body["output1"]
    asks = [int(book[f"askp{i}"]) for i in range(1, 11)]
    bids = [int(book[f"bidp{i}"]) for i in range(1, 11)]
    shown_asks, shown_bids = [p for p in asks if p], [p for p in bids if p]
    assert all(on_ladder(p) for p in shown_asks + shown_bids)
    assert shown_asks == sorted(shown_asks) and shown_bids == sorted(shown_bids, reverse=True)
    assert shown_asks[0] > shown_bids[0]
    assert int(body["output2"]["stck_prpr"]) in (shown_asks[0], shown_bids[0])


def test_search_info_as_python_kis_calls_it(session):
    found = session.get(f"{QUOTE}/search-info", "CTPF1604R", {"PDNO": "005930", "PRDT_TYPE_CD": "300"}).json()
    assert found["rt_cd"] == "0"
    output = found["output"]
    assert (output["shtn_pdno"], output["std_pdno"], output["prdt_type_cd"]) == ("005930", "KR7005930003", "300")
    assert output["prdt_abrv_name"] and output["prdt_name120"]
    overseas = session.get(f"{QUOTE}/search-info", "CTPF1604R", {"PDNO": "005930", "PRDT_TYPE_CD": "512"}).json()
    assert overseas["rt_cd"] == "7"  # no data: python-kis moves on to the next product type


def test_the_daily_chart_from_python_kis_default_start(session):
    params = {
        "FID_COND_MRKT_DIV_CODE": "J",
        "FID_INPUT_ISCD": "005930",
        "FID_INPUT_DATE_1": "00000101",
        "FID_INPUT_DATE_2": "99991231",
        "FID_PERIOD_DIV_CODE": "D",
        "FID_ORG_ADJ_PRC": "0",
    }
    body = session.get(f"{QUOTE}/inquire-daily-itemchartprice", "FHKST03010100", params).json()
    assert body["rt_cd"] == "0" and len(body["output2"]) == 100
    assert all(on_ladder(int(row["stck_clpr"])) for row in body["output2"])


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/uapi/domestic-stock/v1/quotations/no-such-api"), ("POST", f"{QUOTE}/inquire-price")]
)
def test_unknown_paths_answer_in_the_kis_envelope(session, method, path):
    answer = requests.request(method, session.rest + path, headers=session.headers("FHKST01010100"), timeout=10)
    assert answer.status_code in (404, 405)
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["rt_cd"] == "1" and body["msg_cd"] and body["msg1"]
