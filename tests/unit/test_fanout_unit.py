"""Pieces of the fan-out that need no network: SigV4 signing, batch framing, back-off, scheduling.

The fan-out is driven through its public interface (``on_control``, ``on_tick``) and its
``@connections`` calls are answered by a script (``post=``) instead of the network.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from support.waiting import wait_for_async

from kstock_streamer.fanout import (
    FRAME_LIMIT,
    GONE,
    OK,
    THROTTLED,
    Connection,
    Fanout,
    FanoutOptions,
    backoff,
    batches,
    control,
)
from kstock_streamer.fanout.outcomes import FAILED, classify
from kstock_streamer.fanout.signing import Credentials, SigV4Signer, connection_url


@pytest.mark.parametrize("session_token", [None, "temporary-session-token"])
def test_signature_matches_botocore(session_token: str | None) -> None:
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


class Script:
    """Answers the fan-out's ``@connections`` calls from a list (OK once it runs out) and records the bodies."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.bodies: list[bytes] = []
        self.answers = list(answers or [])

    async def __call__(self, conn: Connection, body: bytes) -> str:
        self.bodies.append(body)
        return self.answers.pop(0) if self.answers else OK


def _fanout(script: Script, forgotten: list[str] | None = None, **options: Any) -> Fanout:
    sink = forgotten if forgotten is not None else []
    return Fanout(None, FanoutOptions(**options), post=script, forget=sink.append)


def _subscribe(fanout: Fanout, cid: str, symbols: list[str], mode: str = "tick", window_ms: int | None = None) -> None:
    fanout.on_control(
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
    await wait_for_async(fanout.scheduler.idle, 5, "fan-out: nothing in flight and no window pending", interval=0.005)


def test_batch_messages_hold_the_newest_tick_per_symbol_and_stay_under_32_kb() -> None:
    script = Script()

    async def scenario() -> None:
        fanout = _fanout(script)
        symbols = [f"{i:06d}" for i in range(150)]
        _subscribe(fanout, "c1", symbols, mode="batch", window_ms=50)
        for n in range(3):
            for symbol in symbols:
                fanout.on_tick(symbol, _tick(symbol, n))
        await _settle(fanout)

    asyncio.run(scenario())
    messages = [json.loads(b) for b in script.bodies]
    assert all(len(b) < FRAME_LIMIT for b in script.bodies) and len(messages) >= 2  # split in frames
    ticks = [t for message in messages for t in message["data"]]
    newest = {t["symbol"]: t["accVolume"] for t in ticks}
    assert set(newest) == {f"{i:06d}" for i in range(150)} and set(newest.values()) == {2}
    assert len(ticks) == 150  # each symbol once: superseded ticks were never sent


def test_throttled_tick_connection_backs_off_and_keeps_order_and_a_gone_one_leaves_the_index() -> None:
    script = Script(answers=[OK, THROTTLED, THROTTLED])
    forgotten: list[str] = []

    async def scenario() -> tuple[Fanout, list[int]]:
        fanout = _fanout(script, forgotten, backoff_initial=0.01)
        _subscribe(fanout, "c1", ["005930"])
        for n in range(4):
            fanout.on_tick("005930", _tick("005930", n))
        await _settle(fanout)
        sent = [json.loads(b)["accVolume"] for b in script.bodies]
        _subscribe(fanout, "c2", ["005930"])
        script.answers = [OK, GONE]
        fanout.on_tick("005930", _tick("005930", 9))
        await _settle(fanout)
        return fanout, sent

    fanout, sent = asyncio.run(scenario())
    assert sent == [0, 1, 1, 1, 2, 3]  # retried in place, nothing skipped, in order
    assert fanout.stats.throttled == 2 and fanout.stats.gone == 1
    assert fanout.subscribers("005930") == ["c1"] and forgotten == ["c2"]


def test_batch_connection_sleeps_until_its_symbols_trade_and_keeps_the_newest_through_a_throttle() -> None:
    script = Script(answers=[THROTTLED])

    async def scenario() -> tuple[Fanout, list[bytes], list[str]]:
        fanout = _fanout(script, backoff_initial=0.3)
        fanout.on_tick("000660", _tick("000660", 1))  # nobody wants it yet: not news to later subscribers
        _subscribe(fanout, "c1", ["005930", "000660"], mode="batch", window_ms=30)
        _subscribe(fanout, "c2", ["035720"], mode="batch", window_ms=30)
        await _settle(fanout)
        quiet = list(script.bodies)
        asleep = fanout.index.asleep_symbols()
        fanout.on_tick("005930", _tick("005930", 2))  # wakes c1; its call is throttled
        fanout.on_tick("000660", _tick("000660", 3))
        await wait_for_async(lambda: fanout.stats.throttled == 1, 5, "the throttled call", interval=0.005)
        fanout.on_tick("005930", _tick("005930", 4))  # supersedes 2 before the retry (0.24-0.36 s later)
        await _settle(fanout)
        return fanout, quiet, asleep

    fanout, quiet, asleep = asyncio.run(scenario())
    assert quiet == [] and asleep == ["000660", "005930", "035720"]
    messages = [json.loads(b) for b in script.bodies]
    assert all(m["type"] == "ticks" for m in messages) and fanout.stats.throttled == 1
    assert len(messages) == 2  # the throttled one, then one retry with the newest of each: nothing lost
    assert sorted((t["symbol"], t["accVolume"]) for t in messages[1]["data"]) == [("000660", 3), ("005930", 4)]
    c2 = fanout.connections["c2"]
    assert "035720" in fanout.index.asleep_symbols() and not fanout.newest.has_news(c2)


def test_switching_a_connection_to_batch_moves_it_between_the_indexes() -> None:
    script = Script()

    async def scenario() -> Fanout:
        fanout = _fanout(script)
        _subscribe(fanout, "c1", ["005930"])
        fanout.on_tick("005930", _tick("005930", 1))
        await _settle(fanout)
        _subscribe(fanout, "c1", [], mode="batch", window_ms=20)
        for n in (2, 3):
            fanout.on_tick("005930", _tick("005930", n))
        await _settle(fanout)
        return fanout

    fanout = asyncio.run(scenario())
    assert json.loads(script.bodies[0])["type"] == "tick"
    assert [t["accVolume"] for t in json.loads(script.bodies[-1])["data"]] == [3] and len(script.bodies) == 2
    assert not fanout.index.ticking("005930") and list(fanout.index.batching("005930")) == ["c1"]


def test_a_failing_connection_gives_up_its_head_message_after_max_failures_and_recovers() -> None:
    script = Script(answers=[FAILED, FAILED, OK])

    async def scenario() -> Fanout:
        fanout = _fanout(script, backoff_initial=0.001, max_failures=2)
        _subscribe(fanout, "c1", ["005930"])
        for n in (1, 2):
            fanout.on_tick("005930", _tick("005930", n))
        await _settle(fanout)
        return fanout

    fanout = asyncio.run(scenario())
    volumes = [json.loads(b)["accVolume"] for b in script.bodies]
    assert volumes == [1, 1, 2]  # tick 1 failed twice and was given up; tick 2 went through
    conn = fanout.connections["c1"]
    assert fanout.stats.failed == 2 and conn.backoff == 0.0 and conn.failures == 0 and not conn.queue


def test_theme_updates_and_signals_go_to_their_topics_only() -> None:
    script = Script()

    async def scenario() -> Fanout:
        fanout = _fanout(script)
        for cid, topic in (("t", "themes"), ("s", "signals")):
            fanout.on_control(
                json.dumps(
                    {"event": "subscribe", "connectionId": cid, "domainName": "h:1", "stage": "P", "topics": [topic]}
                )
            )
        fanout.dispatch(["message", "themes:updates", json.dumps({"type": "x", "themes": []})])
        fanout.dispatch(["message", "signals:updates", json.dumps({"symbol": "005930", "rule": "r"})])
        fanout.dispatch(["message", "signals:updates", "not json"])
        await _settle(fanout)
        return fanout

    fanout = asyncio.run(scenario())
    assert sorted(json.loads(b)["type"] for b in script.bodies) == ["signal", "theme_update"]
    assert fanout.stats.theme_updates == 1 and fanout.stats.signals == 1
    assert set(fanout.index.topic("themes")) == {"t"} and set(fanout.index.topic("signals")) == {"s"}


def test_unsubscribe_and_disconnect_announcements_leave_the_index() -> None:
    fanout = _fanout(Script())
    _subscribe(fanout, "c1", ["005930", "000660"])
    fanout.on_control(json.dumps({"event": "unsubscribe", "connectionId": "c1", "symbols": ["000660"]}))
    assert fanout.subscribers("000660") == [] and fanout.subscribers("005930") == ["c1"]
    fanout.on_control(json.dumps({"event": "disconnect", "connectionId": "c1"}))
    assert fanout.subscribers("005930") == [] and "c1" not in fanout.connections
    fanout.on_control("wake")  # the planner's bare wake-up: not an announcement
    assert fanout.stats.announcements == 3  # subscribe, unsubscribe, disconnect


def test_control_messages_are_read_into_announcements_and_anything_else_is_not_one() -> None:
    parsed = control.parse(
        json.dumps(
            {
                "event": "subscribe",
                "connectionId": "c1",
                "symbols": ["005930", 7],
                "topics": None,
                "mode": "turbo",
                "windowMs": 250,
                "domainName": "abc.execute-api",
                "stage": "Prod",
            }
        )
    )
    assert parsed == control.Announcement(
        event="subscribe",
        connection_id="c1",
        symbols=["005930"],
        topics=[],
        mode=None,  # not a mode the registry knows
        window_ms=250,
        domain_name="abc.execute-api",
        stage="Prod",
    )
    for text in ("", "[]", '{"event":"subscribe"}', '{"connectionId": 5}', "{"):
        assert control.parse(text) is None, text


def test_batch_frames_fill_the_budget_and_always_carry_at_least_one_tick() -> None:
    news = [(f"{i:06d}", i, "x" * 100) for i in range(10)]
    frame = batches.take_frame(news, budget=400)
    assert [symbol for symbol, _, _ in frame] == ["000000", "000001", "000002"] and len(news) == 7
    assert len(batches.encode(frame)) <= 400
    huge = [("000000", 1, "y" * 1000)]
    assert batches.take_frame(huge, budget=400) == [("000000", 1, "y" * 1000)] and huge == []


def test_back_off_doubles_with_jitter_up_to_the_maximum_and_resets_on_success() -> None:
    conn = Connection("c1", "http://127.0.0.1:1/Prod", "tick", 0.1)
    pauses = []
    for _ in range(6):
        backoff.back_off(conn, now=100.0, initial=0.5, maximum=4.0)
        pauses.append(conn.backoff)
        assert 100.0 + 0.8 * conn.backoff <= conn.retry_at <= 100.0 + 1.2 * conn.backoff
    assert pauses == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [backoff.count_failure(conn, 3) for _ in range(4)] == [False, False, True, False]
    backoff.succeeded(conn)
    assert conn.backoff == 0.0 and conn.failures == 0


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (200, "", OK),
        (410, "GoneException", GONE),
        (429, "", THROTTLED),
        (400, "LimitExceededException", THROTTLED),
        (500, "InternalServerErrorException", FAILED),
        (403, "ForbiddenException", FAILED),
    ],
)
def test_api_gateway_answers_are_classified(status: int, error: str, outcome: str) -> None:
    assert classify(status, error) == outcome


def test_a_stalled_feed_is_told_to_every_client_and_to_one_joining_while_it_lasts() -> None:
    """Issue 17, finding 7: ``stream:status`` goes to every connection, whatever it subscribes to."""
    script = Script()

    async def scenario() -> Fanout:
        fanout = _fanout(script)
        _subscribe(fanout, "ticks", ["005930"])
        _subscribe(fanout, "batch", ["000660"], mode="batch", window_ms=50)
        fanout.on_control(
            json.dumps(
                {
                    "event": "subscribe",
                    "connectionId": "themed",
                    "domainName": "h:1",
                    "stage": "P",
                    "topics": ["themes"],
                }
            )
        )
        stalled = {"type": "status", "stream": "stalled", "since": "2026-01-11T00:30:00.000Z"}
        fanout.dispatch(["message", "stream:status", json.dumps(stalled)])
        await _settle(fanout)
        _subscribe(fanout, "late", ["035420"])  # joins while the feed is stalled
        await _settle(fanout)
        fanout.dispatch(["message", "stream:status", json.dumps({"type": "status", "stream": "resumed"})])
        fanout.dispatch(["message", "stream:status", "not json"])
        await _settle(fanout)
        _subscribe(fanout, "later", ["035420"])  # nothing to tell any more
        await _settle(fanout)
        return fanout

    fanout = asyncio.run(scenario())
    told = [json.loads(b)["stream"] for b in script.bodies]
    assert told.count("stalled") == 4 and told.count("resumed") == 4  # three clients, the late one too
    assert fanout.stats.status_messages == 7 and fanout.status()["streamStalled"] is False
