"""Issue 17, findings 4 and 5: demand accounting that cannot leak, and a fair share per user.

The WebSocket session against a real DynamoDB (moto server, the template's connections table)
and the session Redis: what the registry holds and what ``ws:demand`` counts must agree."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from support.demand import forget_demand
from support.envs import environment
from support.waiting import wait_for

from kstock import cache, keys
from kstock.auth import tokens
from kstock.errors import TooManyRequests
from kstock.realtime import demand, registry, session
from kstock_local.cloud.provision import local_clients, provision
from kstock_local.cloud.template import read_template
from kstock_local.paths import TEMPLATE_PATH

DOMAIN, STAGE = "localhost:3001", "Prod"
LISTED = ["005930", "000660", "035420", "051910", "005380", "035720"]


@pytest.fixture(scope="module")
def connections_table(database, moto_endpoint):
    template = read_template(TEMPLATE_PATH)
    sqs, dynamodb = local_clients(moto_endpoint, template.region)
    tables = provision(template, sqs, dynamodb).tables
    return moto_endpoint, tables["ConnectionsTable"], template.region


@pytest.fixture
def live(connections_table):
    endpoint, table, region = connections_table
    with environment(
        AWS_ENDPOINT_URL=endpoint,
        CONNECTIONS_TABLE=table,
        AWS_REGION=region,
        WS_MAX_CONNECTIONS_PER_USER="3",
        WS_MAX_SYMBOLS_PER_USER="4",
    ):
        forget_demand(cache.client())
        yield
        forget_demand(cache.client())


@pytest.fixture
def sim_streamer(services, database) -> Iterator[Callable[[], object]]:
    """Starts a streamer (KIS simulator over real sockets, the session Redis) when the test asks for it."""
    from support.streamer import StreamerThread, simulator

    from kstock_streamer.service import StreamerOptions

    with ExitStack() as stack:

        def start():
            sim = simulator(rate=20)
            sim.start()
            stack.callback(sim.stop)
            options = StreamerOptions(default_symbols=[], stable_seconds=0.5, plan_interval=0.2, run_writer=False)
            thread = StreamerThread(sim.sim.rest_url, sim.sim.ws_url, services["REDIS_URL"], database, options)
            return stack.enter_context(thread)

        yield start


def user_id() -> int:
    return int(uuid.uuid4().int % 1_000_000_000) + 1_000_000


def connect(user: int) -> str:
    connection_id = f"c{uuid.uuid4().hex[:14]}="
    session.open_connection(connection_id, tokens.issue(user), domain_name=DOMAIN, stage=STAGE)
    return connection_id


def send(connection_id: str, message: dict) -> dict:
    (reply,) = session.handle_message(connection_id, json.dumps(message), domain_name=DOMAIN, stage=STAGE)
    return reply


def registry_demand(symbols: list[str]) -> dict[str, int]:
    counted = {symbol: len(registry.subscribers_of(symbol)) for symbol in symbols}
    return {symbol: n for symbol, n in counted.items() if n}


def test_a_subscribe_after_the_connection_was_removed_records_and_counts_nothing(live):
    """Finding 4: subscribe frames handled after the fan-out's 410 clean-up re-created rows and
    HINCRBY'd demand that no removal ever released."""
    gone = connect(user_id())
    session.close_connection(gone)  # the fan-out's 410 clean-up
    reply = send(gone, {"action": "subscribe", "symbols": ["005930"], "mode": "batch"})
    assert reply["type"] == "error"
    assert registry.subscriptions(gone) == ([], [])
    assert registry.get(gone) is None  # the mode update did not bring META back
    assert gone not in registry.subscribers_of("005930")
    assert demand.counts().get("005930", 0) == 0
    assert session.close_connection(gone).symbols == []  # the late $disconnect releases nothing


def test_removal_releases_exactly_what_the_connection_held(live):
    user = user_id()
    first, second = connect(user), connect(user)
    assert send(first, {"action": "subscribe", "symbols": ["005930", "000660"]})["type"] == "subscribed"
    assert send(second, {"action": "subscribe", "symbols": ["005930"]})["type"] == "subscribed"
    assert demand.counts() == {"005930": 2, "000660": 1} == registry_demand(LISTED)
    assert sorted(session.close_connection(first).symbols) == ["000660", "005930"]
    assert session.close_connection(first).symbols == []  # $disconnect after the 410 clean-up
    assert demand.counts() == {"005930": 1} == registry_demand(LISTED)
    session.close_connection(second)
    assert demand.counts() == {} == registry_demand(LISTED)


def test_well_formed_codes_of_nothing_listed_are_refused_and_not_counted(live):
    """Finding 5: ``999999`` counted as demand."""
    connection = connect(user_id())
    reply = send(connection, {"action": "subscribe", "symbols": ["005930", "999999"]})
    assert (reply["type"], reply["code"]) == ("error", "INVALID_REQUEST") and "999999" in reply["message"]
    assert demand.counts() == {} and registry.subscriptions(connection) == ([], [])
    assert send(connection, {"action": "ping"}) == {"type": "pong"}  # the socket stays usable
    session.close_connection(connection)


def test_a_user_holds_at_most_the_connection_limit(live):
    user = user_id()
    held = [connect(user) for _ in range(3)]
    with pytest.raises(TooManyRequests) as refused:
        connect(user)
    assert refused.value.retry_after >= 1
    assert sorted(registry.user_connections(user)) == sorted(held)  # the refused one left nothing behind
    connect(user_id())  # another user is not affected
    session.close_connection(held[0])
    connect(user)  # a place came free


def test_a_user_subscribes_at_most_the_symbol_limit_across_connections(live):
    user = user_id()
    first, second = connect(user), connect(user)
    assert send(first, {"action": "subscribe", "symbols": LISTED[:3]})["type"] == "subscribed"
    reply = send(second, {"action": "subscribe", "symbols": LISTED[2:5]})  # one shared + two new = 5 > 4
    assert (reply["type"], reply["code"]) == ("error", "TOO_MANY_REQUESTS")
    assert registry.subscriptions(second) == ([], [])
    assert send(second, {"action": "subscribe", "symbols": LISTED[2:4]})["type"] == "subscribed"  # exactly 4
    assert registry.user_symbols(user) == set(LISTED[:4])
    assert registry.users_of(LISTED[2]) == {user}  # two subscriptions, one user: what KIS slots should count
    assert demand.counts() == registry_demand(LISTED)
    for connection in (first, second):
        session.close_connection(connection)
    assert demand.counts() == {}


def test_demand_is_rebuilt_from_the_registry_when_redis_comes_back_empty(live):
    """Finding 1: after a Redis restart the counts were gone and every subscription silently dead."""
    users = [user_id(), user_id()]
    connections = [connect(users[0]), connect(users[0]), connect(users[1])]
    send(connections[0], {"action": "subscribe", "symbols": ["005930", "000660"]})
    send(connections[1], {"action": "subscribe", "symbols": ["005930"]})
    send(connections[2], {"action": "subscribe", "symbols": ["005930"]})
    expected = {"005930": 3, "000660": 1}
    assert demand.users() == {"005930": 2, "000660": 1}  # counted by the handlers as they went
    cache.client().delete(*demand.HASHES)  # Redis restarted empty
    assert demand.rebuild() == expected == demand.counts()
    assert demand.distinct_users() == {"005930": 2, "000660": 1} == demand.users()  # two users, three subscriptions
    assert not demand.reconcile()  # the rebuilt per-user counts agree too
    for connection in connections:
        session.close_connection(connection)
    assert demand.counts() == {}


def test_the_reconciler_repairs_drift_and_reports_it(live):
    connection = connect(user_id())
    send(connection, {"action": "subscribe", "symbols": ["005930", "000660"]})
    redis_client = cache.client()
    redis_client.hset(keys.DEMAND, mapping={"005930": 7, "035720": 1})  # leaked counts of old
    redis_client.hdel(keys.DEMAND, "000660")  # and a lost one
    redis_client.hset(keys.DEMAND_USERS, "035720", 4)
    drift = demand.reconcile()
    assert drift.subscriptions == {"005930": (7, 1), "035720": (1, 0), "000660": (0, 1)}
    assert drift.users == {"035720": (4, 0)}
    assert demand.counts() == {"005930": 1, "000660": 1} and demand.users() == {"005930": 1, "000660": 1}
    assert not demand.reconcile()  # nothing left to repair
    session.close_connection(connection)
    assert demand.counts() == {}


def test_distinct_users_follow_subscriptions_across_connections_unsubscribes_and_removals(live):
    """Finding 5: KIS slots go by distinct users; the handlers keep the count as they go."""
    alice, bob = user_id(), user_id()
    a1, a2, b1 = connect(alice), connect(alice), connect(bob)
    send(a1, {"action": "subscribe", "symbols": ["005930", "000660"]})
    send(a2, {"action": "subscribe", "symbols": ["005930"]})
    send(b1, {"action": "subscribe", "symbols": ["005930"]})
    assert demand.counts() == {"005930": 3, "000660": 1}
    assert demand.users() == {"005930": 2, "000660": 1} == demand.distinct_users()
    send(a2, {"action": "unsubscribe", "symbols": ["005930"]})  # alice still has it on a1
    assert demand.users() == {"005930": 2, "000660": 1}
    session.close_connection(a1)  # alice's last 005930
    assert demand.users() == {"005930": 1} and demand.counts() == {"005930": 1}
    session.close_connection(a1)  # a second removal releases nothing
    session.close_connection(b1)
    session.close_connection(a2)
    assert demand.users() == {} and demand.counts() == {} and not demand.reconcile()


def test_one_users_flood_of_sockets_cannot_take_a_slot_from_a_three_user_symbol(live, sim_streamer):
    """Finding 5, through the handlers, Redis and a real streamer: one user subscribes 100 symbols from
    5 sockets (500 subscriptions), three users one symbol each. The three-user symbol keeps its KIS slot."""
    from kstock.companies.reference import load_companies

    codes = [c.symbol for c in load_companies()[:101]]
    shared, flood = codes[0], codes[1:]
    with environment(WS_MAX_CONNECTIONS_PER_USER="5", WS_MAX_SYMBOLS_PER_USER="100"):
        flooder = user_id()
        sockets = [connect(flooder) for _ in range(5)]
        for socket in sockets:
            assert send(socket, {"action": "subscribe", "symbols": flood})["type"] == "subscribed"
        others = [connect(user_id()) for _ in range(3)]
        for socket in others:
            assert send(socket, {"action": "subscribe", "symbols": [shared]})["type"] == "subscribed"
    counted = demand.counts()
    assert counted[shared] == 3 and all(counted[s] == 5 for s in flood)  # by sockets, it would lose
    assert demand.users()[shared] == 3
    streamer = sim_streamer()
    wait_for(lambda: ("H0STCNT0", shared) in streamer.websocket.snapshot().subscriptions, 30, "the shared KIS slot")
    assert shared in streamer.planner.streamed and shared not in streamer.polled
    assert len(streamer.planner.streamed) == 41  # the flood's symbols fill the rest; 60 of them are polled
    for socket in [*sockets, *others]:
        session.close_connection(socket)
    assert demand.counts() == {} == demand.users()
