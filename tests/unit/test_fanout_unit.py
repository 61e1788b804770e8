"""Pieces of the fan-out that need no network: SigV4 signing, batch framing, back-off."""

from __future__ import annotations

import asyncio
import json

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from support.waiting import wait_for_async

from kstock.realtime.signing import Credentials, SigV4Signer, connection_url
from kstock_streamer.fanout import FRAME_LIMIT, GONE, OK, THROTTLED, Fanout, FanoutOptions


@pytest.mark.parametrize("session_token", [None, "temporary-session-token"])
def test_signature_matches_botocore(session_token):
    url = connection_url("https://abc123.execute-api.ap-northeast-2.amazonaws.com/Prod", "L0SM9cOFvHcCIhw=")
    body = json.dumps({"type": "tick", "symbol": "005930", "price": 75000}).encode()
    request = AWSRequest(method="POST", url=url, data=body)
    SigV4Auth(
        BotoCredentials("AKIDEXAMPLE", "not-a-real-secret", session_token), "execute-api", "ap-northeast-2"
    ).add_auth(request)
    signer = SigV4Signer("ap-northeast-2", lambda: Credentials("AKIDEXAMPLE", "not-a-real-secret", session_token))
    ours = signer.headers("POST", url, body, amz_date=request.headers["X-Amz-Date"])
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")


class RecordingFanout(Fanout):
    """A fan-out whose @connections calls are answered by a script instead of the network."""

    def __init__(self, answers=None, **options):
        super().__init__(redis=None, options=FanoutOptions(**options))
        self.bodies: list[bytes] = []
        self.answers = list(answers or [])

    async def _post(self, conn, body):
        self.bodies.append(body)
        return self.answers.pop(0) if self.answers else OK


def _subscribe(fanout: Fanout, cid: str, symbols: list[str], mode: str = "tick", window_ms: int | None = None):
    fanout._control(
        json.dumps(
            {
                "event": "subscribe",
                "connectionId": cid,
                "domainName": "127.0.0.1:1",
                "stage": "Prod",
                "mode": mode,
                "windowMs": window_ms,
                "symbols": symbols,
            }
        )
    )


def _tick(symbol: str, n: int) -> str:
    return json.dumps(
        {
            "type": "tick",
            "symbol": symbol,
            "price": 1000 + n,
            "volume": 1,
            "accVolume": n,
            "change": 0,
            "changePercent": 0.0,
            "timestamp": "2026-01-11T00:30:00.000Z",
            "source": "ws",
            "padding": "x" * 300,
        }
    )


async def _settle(fanout: Fanout) -> None:
    """Until no call is out and no window is waiting."""
    await asyncio.sleep(0)
    await wait_for_async(
        lambda: not fanout._tasks and not any(c.timer for c in fanout.connections.values()),
        5,
        "fan-out: nothing in flight and no window pending",
        interval=0.005,
    )


def test_batch_messages_hold_the_newest_tick_per_symbol_and_stay_under_32_kb():
    async def scenario():
        fanout = RecordingFanout()
        symbols = [f"{i:06d}" for i in range(150)]
        _subscribe(fanout, "c1", symbols, mode="batch", window_ms=50)
        for n in range(3):
            for symbol in symbols:
                fanout._tick(symbol, _tick(symbol, n))
        await _settle(fanout)
        return fanout

    fanout = asyncio.run(scenario())
    messages = [json.loads(b) for b in fanout.bodies]
    assert all(len(b) < FRAME_LIMIT for b in fanout.bodies) and len(messages) >= 2  # split in frames
    ticks = [t for message in messages for t in message["data"]]
    newest = {t["symbol"]: t["accVolume"] for t in ticks}
    assert set(newest) == {f"{i:06d}" for i in range(150)} and set(newest.values()) == {2}
    assert len(ticks) == 150  # each symbol once: superseded ticks were never sent


def test_throttled_tick_connection_backs_off_and_keeps_order_and_a_gone_one_leaves_the_index():
    async def scenario():
        fanout = RecordingFanout(answers=[OK, THROTTLED, THROTTLED], backoff_initial=0.01)
        forgotten = []
        fanout._forget_remote = forgotten.append
        _subscribe(fanout, "c1", ["005930"])
        for n in range(4):
            fanout._tick("005930", _tick("005930", n))
        await _settle(fanout)
        sent = [json.loads(b)["accVolume"] for b in fanout.bodies]
        _subscribe(fanout, "c2", ["005930"])
        fanout.answers = [OK, GONE]
        fanout._tick("005930", _tick("005930", 9))
        await _settle(fanout)
        return fanout, sent, forgotten

    fanout, sent, forgotten = asyncio.run(scenario())
    assert sent == [0, 1, 1, 1, 2, 3]  # retried in place, nothing skipped, in order
    assert fanout.stats.throttled == 2 and fanout.stats.gone == 1
    assert fanout.subscribers("005930") == ["c1"] and forgotten == ["c2"]


def test_batch_connection_sleeps_until_its_symbols_trade_and_keeps_the_newest_through_a_throttle():
    async def scenario():
        fanout = RecordingFanout(answers=[THROTTLED], backoff_initial=0.3)
        fanout._tick("000660", _tick("000660", 1))  # nobody wants it yet: not news to later subscribers
        _subscribe(fanout, "c1", ["005930", "000660"], mode="batch", window_ms=30)
        _subscribe(fanout, "c2", ["035720"], mode="batch", window_ms=30)
        await _settle(fanout)
        quiet = list(fanout.bodies)
        asleep = sorted(fanout.asleep)
        fanout._tick("005930", _tick("005930", 2))  # wakes c1; its call is throttled
        fanout._tick("000660", _tick("000660", 3))
        await wait_for_async(lambda: fanout.stats.throttled == 1, 5, "fan-out: the throttled call", interval=0.005)
        fanout._tick("005930", _tick("005930", 4))  # supersedes 2 before the retry (0.24-0.36 s later)
        await _settle(fanout)
        return fanout, quiet, asleep

    fanout, quiet, asleep = asyncio.run(scenario())
    assert quiet == [] and asleep == ["000660", "005930", "035720"]
    messages = [json.loads(b) for b in fanout.bodies]
    assert all(m["type"] == "ticks" for m in messages) and fanout.stats.throttled == 1
    assert len(messages) == 2  # the throttled one, then one retry with the newest of each: nothing lost
    assert sorted((t["symbol"], t["accVolume"]) for t in messages[1]["data"]) == [("000660", 3), ("005930", 4)]
    assert "035720" in fanout.asleep and not fanout._has_news(fanout.connections["c2"])


def test_switching_a_connection_to_batch_moves_it_between_the_indexes():
    async def scenario():
        fanout = RecordingFanout()
        _subscribe(fanout, "c1", ["005930"])
        fanout._tick("005930", _tick("005930", 1))
        await _settle(fanout)
        _subscribe(fanout, "c1", [], mode="batch", window_ms=20)
        for n in (2, 3):
            fanout._tick("005930", _tick("005930", n))
        await _settle(fanout)
        return fanout

    fanout = asyncio.run(scenario())
    assert json.loads(fanout.bodies[0])["type"] == "tick"
    assert [t["accVolume"] for t in json.loads(fanout.bodies[-1])["data"]] == [3] and len(fanout.bodies) == 2
    assert "005930" not in fanout.ticking and list(fanout.batching["005930"]) == ["c1"]
