"""A restarted streamer sends the reconnect snapshot after its first KIS connect (issue 17, fault step 2).

Its clients were the previous process's and missed what that one never sent; the contract
(docs/architecture.md, section 2.1) is one REST quote of every streamed symbol after a connect.
"""

from __future__ import annotations

import json

import pytest
import redis
from support.demand import forget_demand
from support.streamer import StreamerThread, simulator
from support.waiting import wait_for

from kstock import keys
from kstock_streamer.service import StreamerOptions

STREAMED = ["005930", "000660"]


@pytest.fixture(scope="module")
def sim():
    thread = simulator(rate=300)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def r(services):
    client = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    forget_demand(client)
    yield client
    forget_demand(client)


def test_first_connect_of_a_new_process_sends_a_snapshot_of_every_streamed_symbol(sim, services, database, r):
    pubsub = r.pubsub()
    pubsub.subscribe(*[keys.realtime_channel(s) for s in STREAMED])
    quoted: set[str] = set()

    def snapshot_quotes() -> bool:
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "message":
            tick = json.loads(message["data"])
            if tick["source"] == "poll":  # both symbols hold slots: no poller quote, only the snapshot
                quoted.add(tick["symbol"])
        return quoted == set(STREAMED)

    options = StreamerOptions(default_symbols=STREAMED, stable_seconds=0.5, plan_interval=0.2, poll_rate=20)
    with StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options) as streamer:
        wait_for(snapshot_quotes, 15, "a REST quote of every streamed symbol")
        assert streamer.websocket.snapshot().connects == 1  # no reconnect: the process's first connect
        assert streamer.snapshots >= len(STREAMED)
        assert streamer.polled == []
    pubsub.close()


def test_a_snapshot_that_breaks_is_logged_and_asked_again(sim, services, database, r, monkeypatch, caplog):
    """The snapshot runs as a task of its own, awaited by nobody until stop: an unexpected error in it is
    logged, and its symbols are quoted next round."""
    from kstock_streamer import service

    real_fetch = service.fetch_quote
    broken = {"left": 1}

    def fetch_once_broken(*args, **kwargs):
        if broken["left"]:
            broken["left"] -= 1
            raise RuntimeError("a bug in one quote")
        return real_fetch(*args, **kwargs)

    monkeypatch.setattr(service, "fetch_quote", fetch_once_broken)
    options = StreamerOptions(default_symbols=STREAMED, stable_seconds=0.5, plan_interval=0.2, poll_rate=20)
    with StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options) as streamer:
        wait_for(lambda: streamer.snapshots >= len(STREAMED), 15, "every streamed symbol quoted after the failure")
        assert not broken["left"]
        assert not any(health.failing for health in streamer.tasks.values()), streamer.tasks
    assert any("snapshot of" in rec.getMessage() and rec.exc_info for rec in caplog.records)
