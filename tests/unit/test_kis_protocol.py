"""KIS realtime protocol: messages, control JSON and data frames laid out as docs/kis-protocol.md section 4.1."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kstock.kis.connection import backoff_delay
from kstock.kis.errors import KisAppKeyInUse, KisInvalidApproval, KisMaxSubscriptions, MalformedFrame
from kstock.kis.protocol import (
    H0EWCNT0_FIELDS,
    FrameParser,
    aes_decrypt,
    aes_encrypt,
    control_error,
    parse_control,
    subscription_message,
)
from kstock.kis.ratelimit import TokenBucket

# docs/kis-protocol.md section 4.1, verbatim.
SINGLE = (
    "0|H0STCNT0|001|005930^093015^71500^2^500^0.70^71342.17^71200^71600^71000^71500^71400^12^2154873^153732184100^"
    "4512^5123^611^104.31^1032145^1076643^1^51.07^18.42^090000^2^300^092811^5^-100^090107^2^500^20250714^20^N^48211^"
    "102934^812345^1204567^0.04^1890231^114.00^0^^71200"
)
DOUBLE = (
    "0|H0STCNT0|002|005930^093015^71500^2^500^0.70^71342.17^71200^71600^71000^71500^71400^12^2154873^153732184100^"
    "4512^5123^611^104.31^1032145^1076643^1^51.07^18.42^090000^2^300^092811^5^-100^090107^2^500^20250714^20^N^48211^"
    "102934^812345^1204567^0.04^1890231^114.00^0^^71200^005930^093015^71400^2^400^0.56^71342.17^71200^71600^71000^"
    "71500^71400^30^2154903^153734326100^4513^5123^610^104.30^1032175^1076643^5^51.06^18.42^090000^2^200^092811^5^"
    "-200^090107^2^400^20250714^20^N^48211^102904^812345^1204567^0.04^1890231^114.00^0^^71200"
)
FALLING = (
    "0|H0STCNT0|001|000660^141502^174900^5^-18400^-9.52^178033.41^185000^186300^174500^175000^174900^7^8919304^"
    "1587870362300^60211^51876^-8335^88.12^4712331^4152673^5^46.84^172.55^090000^5^-10100^090012^5^-11400^141355^2^"
    "400^20240802^20^N^1532^233^98231^64120^1.23^5169334^172.55^0^^174500"
)


def _payload(frame: str) -> str:
    return frame.split("|", 3)[3]


def test_spec_frames_have_46_fields_per_record():
    assert len(_payload(SINGLE).split("^")) == 46
    assert len(_payload(DOUBLE).split("^")) == 92
    assert len(_payload(FALLING).split("^")) == 46


def test_single_record_frame():
    [tick] = FrameParser().parse_frame(SINGLE)
    assert (tick.tr_id, tick.symbol, tick.price) == ("H0STCNT0", "005930", 71500)
    assert (tick.change, tick.change_sign) == (500, "2")
    assert tick.change_percent == pytest.approx(0.70)
    assert (tick.volume, tick.acc_volume) == (12, 2154873)
    assert (tick.open, tick.high, tick.low) == (71200, 71600, 71000)
    assert tick.timestamp == datetime(2025, 7, 14, 0, 30, 15, tzinfo=UTC)  # 09:30:15 KST


def test_tick_message_is_the_architecture_contract():
    [tick] = FrameParser().parse(SINGLE)
    assert tick.to_message() == {
        "type": "tick",
        "symbol": "005930",
        "price": 71500,
        "volume": 12,
        "accVolume": 2154873,
        "change": 500,
        "changePercent": 0.7,
        "timestamp": "2025-07-14T00:30:15.000Z",
        "source": "ws",
    }
    assert json.loads(tick.to_json("poll"))["source"] == "poll"


def test_two_record_frame():
    first, second = FrameParser().parse_frame(DOUBLE)
    assert (first.price, first.volume, first.acc_volume) == (71500, 12, 2154873)
    assert (second.price, second.change, second.volume, second.acc_volume) == (71400, 400, 30, 2154903)
    assert second.change_percent == pytest.approx(0.56)


def test_falling_stock_has_negative_change():
    [tick] = FrameParser().parse_frame(FALLING)
    assert (tick.symbol, tick.price, tick.change, tick.change_sign) == ("000660", 174900, -18400, "5")
    assert tick.change_percent == pytest.approx(-9.52)
    assert tick.timestamp == datetime(2024, 8, 2, 5, 15, 2, tzinfo=UTC)


def test_unsigned_magnitudes_are_signed_by_the_sign_code():
    values = _payload(FALLING).split("^")
    values[4], values[5] = "18400", "9.52"
    [tick] = FrameParser().parse_frame("0|H0STCNT0|001|" + "^".join(values))
    assert (tick.change, tick.change_percent) == (-18400, pytest.approx(-9.52))


def test_three_extra_trailing_fields_per_record_are_tolerated(caplog):
    records = [r + "^EXTRA1^EXTRA2^EXTRA3" for r in (_payload(SINGLE), _payload(FALLING))]
    frame = "0|H0STCNT0|002|" + "^".join(records)
    parser = FrameParser()
    with caplog.at_level(logging.WARNING, logger="kstock.kis.protocol"):
        first, second = parser.parse_frame(frame)
        parser.parse_frame(frame)
    assert (first.symbol, first.price, first.acc_volume) == ("005930", 71500, 2154873)
    assert (second.symbol, second.price, second.change) == ("000660", 174900, -18400)
    assert parser.stats.drift == {"H0STCNT0": 49}
    assert sum("drift" in r.getMessage() for r in caplog.records) == 1  # warned once


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "garbage",
        "0|H0STCNT0",
        "0|H0STCNT0|abc|1^2",
        "0|H0STCNT0|000|",
        "0|H0XXXXX0|001|a^b",
        "0|H0STCNT0|002|" + _payload(SINGLE) + "^extra",  # 93 values do not split into 2 records
        "0|H0STCNT0|001|1^2^3",  # far too few fields
        "7|H0STCNT0|001|" + _payload(SINGLE),  # bad encryption flag
        "1|H0STCNT0|001|bm90IGVuY3J5cHRlZA==",  # encrypted before any key
    ],
)
def test_garbage_frames_are_skipped_not_raised(raw):
    parser = FrameParser()
    assert parser.parse(raw) == []
    assert parser.stats.malformed_frames == 1
    with pytest.raises(MalformedFrame):
        parser.parse_frame(raw)


def test_a_bad_record_is_skipped_and_the_rest_kept():
    values = _payload(DOUBLE).split("^")
    values[2] = "not-a-price"
    parser = FrameParser()
    ticks = parser.parse("0|H0STCNT0|002|" + "^".join(values))
    assert [t.price for t in ticks] == [71400]
    assert parser.stats.skipped_records == 1


def test_encrypted_frame_is_decrypted_with_the_ack_key():
    key, iv = "k" * 16 + "K" * 16, "i" * 16
    parser = FrameParser()
    parser.set_key("H0STCNT0", key, iv)
    [tick] = parser.parse_frame("1|H0STCNT0|001|" + aes_encrypt(key, iv, _payload(SINGLE)))
    assert tick.price == 71500
    assert aes_decrypt(key, iv, aes_encrypt(key, iv, "a^b^한글")) == "a^b^한글"


def test_elw_and_index_frames():
    elw = _payload(SINGLE).split("^")[:40]
    elw[0] = "57LA24"
    elw += ["0"] * (len(H0EWCNT0_FIELDS) - 40)
    [tick] = FrameParser().parse_frame("0|H0EWCNT0|001|" + "^".join(elw))
    assert (tick.tr_id, tick.symbol, tick.price) == ("H0EWCNT0", "57LA24", 71500)

    index = [
        "0001",
        "093015",
        "2650.32",
        "5",
        "-12.10",
        "250000000",
        "8000000",
        "12345",
        "0",
        "-0.45",
        "2660.00",
        "2665.50",
        "2640.10",
    ] + ["0"] * 17
    [tick] = FrameParser(today=lambda: "20250714").parse_frame("0|H0UPCNT0|001|" + "^".join(index))
    assert (tick.symbol, tick.price, tick.change, tick.volume) == ("0001", Decimal("2650.32"), Decimal("-12.10"), 12345)
    assert tick.to_message()["price"] == 2650.32
    assert tick.timestamp == datetime(2025, 7, 14, 0, 30, 15, tzinfo=UTC)


def test_subscription_messages():
    sub = json.loads(subscription_message("APPROVAL", "H0STCNT0", "005930"))
    assert sub == {
        "header": {"approval_key": "APPROVAL", "custtype": "P", "tr_type": "1", "content-type": "utf-8"},
        "body": {"input": {"tr_id": "H0STCNT0", "tr_key": "005930"}},
    }
    unsub = json.loads(subscription_message("APPROVAL", "H0STCNT0", "005930", subscribe=False))
    assert unsub["header"]["tr_type"] == "2"


def _control(msg_cd: str, msg1: str, rt_cd: str = "1", output: dict | None = None) -> str:
    body = {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}
    if output:
        body["output"] = output
    return json.dumps({"header": {"tr_id": "H0STCNT0", "tr_key": "005930", "encrypt": "N"}, "body": body})


def test_control_messages():
    ack = parse_control(_control("OPSP0000", "SUBSCRIBE SUCCESS", "0", {"iv": "i" * 16, "key": "k" * 32}))
    assert ack.ok and (ack.iv, ack.key) == ("i" * 16, "k" * 32) and not ack.is_pingpong
    assert parse_control(_control("OPSP0002", "ALREADY IN SUBSCRIBE")).ok  # alive: success
    assert parse_control(_control("OPSP0001", "UNSUBSCRIBE SUCCESS", "0")).is_unsubscribe
    over = parse_control(_control("OPSP0008", "MAX SUBSCRIBE OVER"))
    assert not over.ok and isinstance(control_error(over), KisMaxSubscriptions)
    assert isinstance(control_error(parse_control(_control("OPSP8996", "ALREADY IN USE appkey"))), KisAppKeyInUse)
    assert isinstance(control_error(parse_control(_control("OPSP0011", "invalid approval"))), KisInvalidApproval)
    ping = parse_control('{"header":{"tr_id":"PINGPONG","datetime":"20250714093000"}}')
    assert ping.is_pingpong
    for bad in ("{", "[]", '{"body":{}}', '{"header":"x"}'):
        with pytest.raises(MalformedFrame):
            parse_control(bad)


def test_backoff_is_exponential_with_jitter_and_capped():
    rng = random.Random(1)
    for attempt in range(12):
        delay = backoff_delay(attempt, 0.5, 30.0, rng)
        assert 0 <= delay <= min(30.0, 0.5 * 2**attempt)
    assert len({round(backoff_delay(5, 0.5, 30.0, rng), 6) for _ in range(20)}) > 1


def test_token_bucket_paces_callers():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10, burst=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(11):
        bucket.acquire()
    assert now[0] == pytest.approx(1.0)  # 11 calls at 10/s with no burst: the last one at t = 1 s
    assert bucket.reserve() > 0


def test_fast_tick_json_is_exactly_what_json_dumps_gives():
    import json

    from kstock.kis.protocol import FrameParser

    ticks = [t for frame in (SINGLE, DOUBLE, FALLING) for t in FrameParser().parse_frame(frame)]
    assert len(ticks) == 4
    for tick in ticks:
        for source in ("ws", "poll"):
            assert tick.to_json(source) == json.dumps(tick.to_message(source), separators=(",", ":"))
