"""Order-book subscriptions as demand of their own (issue 18 item 1), against a real DynamoDB (moto, the
template's connections table) and the session Redis: the registry's BOOK# items, the counts and the
announcements of the session, the rebuild and the reconciler carrying them, the fan-out's book index
rebuilt from the registry, and a disconnect releasing them once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis
from support.envs import environment
from support.waiting import Deadline

from kstock import cache, keys
from kstock.realtime import demand, registry, session
from kstock.realtime.channels import book_demand
from kstock_local.cloud.provision import local_clients, provision
from kstock_local.cloud.template import read_template
from kstock_local.paths import TEMPLATE_PATH
from kstock_streamer.fanout.books import BookFanout
from kstock_streamer.fanout.index import ConnectionIndex
from kstock_streamer.fanout.rebuild import load_index, refill, registered_symbols

DOMAIN, STAGE = "localhost:3001", "Prod"


@pytest.fixture(scope="module")
def connections_table(database, moto_endpoint):
    template = read_template(TEMPLATE_PATH)
    sqs, dynamodb = local_clients(moto_endpoint, template.region)
    tables = provision(template, sqs, dynamodb).tables
    return moto_endpoint, tables["ConnectionsTable"], template.region


@pytest.fixture
def live(connections_table) -> Iterator[None]:
    endpoint, table, region = connections_table
    with environment(AWS_ENDPOINT_URL=endpoint, CONNECTIONS_TABLE=table, AWS_REGION=region, WS_MAX_SYMBOLS="3"):
        cache.client().delete(*demand.HASHES)
        yield


def _open(user_id: int = 41) -> str:
    from kstock.auth import tokens

    connection_id = f"book-{uuid.uuid4().hex[:12]}"
    session.open_connection(connection_id, tokens.issue(user_id), domain_name=DOMAIN, stage=STAGE)
    return connection_id


def _send(connection_id: str, **message: object) -> dict:
    (reply,) = session.handle_message(connection_id, json.dumps(message), domain_name=DOMAIN, stage=STAGE)
    return reply


def _announcements(pubsub, wanted: int) -> list[dict]:
    """The next ``wanted`` announcements on ws:control."""
    deadline = Deadline(10, f"{wanted} announcements")
    said: list[dict] = []
    while len(said) < wanted:
        if deadline.expired():
            raise deadline.fail(f"; got {said}")
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=min(1.0, deadline.left()))
        if message is not None and message["type"] == "message":
            said.append(json.loads(message["data"]))
    return said


def test_a_book_is_demand_of_its_own_counted_announced_and_released_once(live):
    announcements = cache.client().pubsub()
    announcements.subscribe(keys.CONTROL_CHANNEL)
    cid = _open()
    reply = _send(cid, action="subscribe", symbols=["005930"], channels=["orderbook"])
    assert reply == {"type": "subscribed", "symbols": ["005930"], "topics": [], "channels": ["orderbook"]}
    assert registry.holdings(cid).books == ["005930"] and registry.holdings(cid).symbols == []
    assert registry.subscribers_of(book_demand("005930")) == [cid] and registry.subscribers_of("005930") == []
    assert demand.counts() == {book_demand("005930"): 1} and demand.users() == {book_demand("005930"): 1}
    # a retry counts nothing more; the trades of the same symbol are a second, separate demand
    _send(cid, action="subscribe", symbols=["005930"], channels=["orderbook"])
    _send(cid, action="subscribe", symbols=["005930"])
    assert demand.counts() == {book_demand("005930"): 1, "005930": 1}
    said = _announcements(announcements, 3)
    assert said[0]["books"] == ["005930"] and said[0]["symbols"] == []
    assert said[-1]["books"] == [] and said[-1]["symbols"] == ["005930"]
    announcements.close()

    assert demand.registered_demand().counts == demand.counts()  # the reconciler's truth agrees
    session.close_connection(cid)
    assert demand.counts() == {} and registry.holdings(cid).books == []
    assert session.close_connection(cid).books == []  # a second removal releases nothing


def test_unsubscribe_without_channels_leaves_both_and_with_channels_only_those(live):
    cid = _open()
    _send(cid, action="subscribe", symbols=["000660", "035420"], channels=["trade", "orderbook"])
    reply = _send(cid, action="unsubscribe", symbols=["000660"], channels=["orderbook"])
    assert reply["type"] == "unsubscribed" and reply["channels"] == ["orderbook"]
    assert demand.counts() == {"000660": 1, "035420": 1, book_demand("035420"): 1}
    _send(cid, action="unsubscribe", symbols=["035420"])
    assert demand.counts() == {"000660": 1}
    session.close_connection(cid)


def test_a_symbol_counts_once_against_the_limit_whatever_its_channels(live):
    cid = _open()
    assert _send(cid, action="subscribe", symbols=["005930", "000660"], channels=["trade", "orderbook"])["type"] == (
        "subscribed"
    )
    assert _send(cid, action="subscribe", symbols=["035420"], channels=["orderbook"])["type"] == "subscribed"
    refused = _send(cid, action="subscribe", symbols=["051910"])  # WS_MAX_SYMBOLS is 3 here
    assert refused["type"] == "error" and "at most 3 symbols" in refused["message"]
    session.close_connection(cid)


def test_redis_that_came_back_empty_gets_book_demand_back_and_the_fanout_its_book_index(live, services):
    cid, other = _open(), _open(user_id=42)
    _send(cid, action="subscribe", symbols=["005930"], channels=["trade", "orderbook"])
    _send(other, action="subscribe", symbols=["005930"], channels=["orderbook"])
    r = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    r.delete(*demand.HASHES)  # what a Redis restart leaves
    assert demand.rebuild() == {"005930": 1, book_demand("005930"): 2}
    assert demand.users()[book_demand("005930")] == 2

    index = ConnectionIndex()
    books = BookFanout(2, lambda conn, payload: None)
    refill(index, load_index(registered_symbols()), lambda _ms: 0.1, books)
    assert sorted(books.subscribers("005930")) == sorted([cid, other])
    assert index.subscribers("005930") == [cid]  # trades and books kept apart
    assert book_demand("005930") not in index.by_symbol
    for connection_id in (cid, other):
        session.close_connection(connection_id)
