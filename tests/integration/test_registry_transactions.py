"""Issue 17, fault step 5: the registry's subscription writes are atomic with the connection's life.

Against the local cloud's own moto server (``kstock_local.cloud.moto_server``, DynamoDB served one
request at a time): a subscription's owner item and its mirror are written together, on the
condition that the connection's ``META`` exists, a transaction per 49 names; a removal racing a
subscribe leaves no row behind; concurrent transactions, some cancelled, lose nobody else's writes.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from kstock.realtime import registry

SYMBOLS = [f"{900000 + i:06d}" for i in range(100)]


def items_of(partition: str) -> list[str]:
    model = registry._model()  # the test reads the table's rows as they are, not through the API under test
    return [item.sk for item in model.query(partition, consistent_read=True)]


def orphans(connection_id: str, names: list[str]) -> list[str]:
    """Rows left for a removed connection: its own items and the mirrors under each symbol."""
    left = items_of(f"{registry.CONN}{connection_id}")
    for name in names:
        left += [
            f"{name}:{sk}" for sk in items_of(f"{registry.SYMBOL}{name}") if sk == f"{registry.CONN}{connection_id}"
        ]
    return left


def new_connection() -> str:
    connection_id = f"t{uuid.uuid4().hex[:14]}="
    registry.register(connection_id, user_id=None, domain_name="localhost:3001", stage="Prod")
    return connection_id


def test_a_hundred_symbols_are_written_with_their_mirrors(registry_table):
    connection = new_connection()
    assert registry.add_symbols(connection, SYMBOLS) == SYMBOLS  # three transactions: 49, 49, 2
    assert sorted(registry.subscriptions(connection)[0]) == SYMBOLS
    assert all(registry.subscribers_of(symbol) == [connection] for symbol in SYMBOLS)
    assert sorted(registry.remove(connection).symbols) == SYMBOLS
    assert orphans(connection, SYMBOLS) == []


def test_a_retried_subscribe_counts_only_what_is_new(registry_table):
    connection = new_connection()
    assert registry.add_symbols(connection, SYMBOLS[:3]) == SYMBOLS[:3]
    # the retry does not say what it holds: the cancelled transaction names the held ones, the rest are written
    assert registry.add_symbols(connection, SYMBOLS[:6]) == SYMBOLS[3:6]
    assert registry.add_symbols(connection, SYMBOLS[:6]) == []
    assert all(registry.subscribers_of(symbol) == [connection] for symbol in SYMBOLS[:6])
    assert sorted(registry.remove(connection).symbols) == SYMBOLS[:6]


def test_a_subscribe_after_the_removal_writes_nothing(registry_table):
    connection = new_connection()
    registry.remove(connection)
    with pytest.raises(registry.ConnectionGone):
        registry.add_symbols(connection, SYMBOLS[:60])
    assert orphans(connection, SYMBOLS[:60]) == []


def test_a_removal_racing_subscribes_leaves_no_row_behind(registry_table):
    """The fault suite's flood: ``$disconnect`` between a subscribe's writes left mirror rows (51)."""
    for _ in range(8):
        connection = new_connection()
        started = threading.Event()

        def subscribe(connection: str = connection, started: threading.Event = started) -> None:
            try:
                for start in range(0, len(SYMBOLS), 10):
                    registry.add_symbols(connection, SYMBOLS[start : start + 10])
                    started.set()
            except registry.ConnectionGone:
                pass
            finally:
                started.set()

        thread = threading.Thread(target=subscribe)
        thread.start()
        assert started.wait(30)
        removed = registry.remove(connection)
        thread.join(60)
        assert not thread.is_alive()
        assert orphans(connection, SYMBOLS) == []
        assert len(removed.symbols) == len(set(removed.symbols))


def test_cancelled_transactions_lose_no_concurrent_write(registry_table):
    """moto restores a whole table after a cancelled transaction; served one at a time, nothing else is lost."""
    live = new_connection()
    gone = new_connection()
    registry.remove(gone)
    errors: list[BaseException] = []

    def writer(names: list[str]) -> None:
        try:
            for name in names:
                registry.add_symbols(live, [name])
        except BaseException as exc:  # reported below, with the figures
            errors.append(exc)

    def canceller() -> None:
        for _ in range(40):
            try:
                registry.add_symbols(gone, SYMBOLS[:5])
            except registry.ConnectionGone:
                pass

    threads = [threading.Thread(target=writer, args=(SYMBOLS[i::4],)) for i in range(4)]
    threads += [threading.Thread(target=canceller) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(registry.subscriptions(live)[0]) == SYMBOLS
    assert sorted(s for s in SYMBOLS if registry.subscribers_of(s) == [live]) == SYMBOLS
    registry.remove(live)


def test_an_unsubscribe_reports_what_it_removed_and_clears_every_mirror(registry_table):
    connection = new_connection()
    assert registry.add_symbols(connection, SYMBOLS[:60]) == SYMBOLS[:60]
    assert registry.remove_symbols(connection, SYMBOLS[:10]) == SYMBOLS[:10]
    # a retried unsubscribe over held and no longer held names: only the held ones count, in two transactions
    assert registry.remove_symbols(connection, SYMBOLS[:60]) == SYMBOLS[10:60]
    assert registry.remove_symbols(connection, SYMBOLS[:60]) == []
    assert registry.subscriptions(connection) == ([], [])
    assert all(registry.subscribers_of(symbol) == [] for symbol in SYMBOLS[:60])
    registry.remove(connection)


def test_a_partition_query_answers_its_own_items_in_order_and_in_pages(registry_table):
    """The local moto reads a table-key Query's partition alone (moto_server.partition_queries): the same
    items, sorted by range key, forwards and backwards, and paged by Limit, beside other partitions."""
    users = {7101: [f"q{uuid.uuid4().hex[:14]}=" for _ in range(5)], 7102: [f"q{uuid.uuid4().hex[:14]}="]}
    for user, connections in users.items():
        for connection in connections:
            registry.register(connection, user_id=user, domain_name="localhost:3001", stage="Prod")
    assert sorted(registry.user_connections(7101)) == sorted(users[7101])
    assert registry.user_connections(7102) == users[7102]
    assert registry.user_connections(7103) == []

    model = registry._model()  # the rows as the table holds them
    expected = sorted(f"{registry.CONN}{c}" for c in users[7101])
    forwards = [item.sk for item in model.query(f"{registry.USER}7101", consistent_read=True)]
    backwards = [item.sk for item in model.query(f"{registry.USER}7101", scan_index_forward=False)]
    pages = model.query(f"{registry.USER}7101", limit=2, page_size=2)
    assert forwards == expected and backwards == expected[::-1]
    assert [item.sk for item in pages] == expected[:2]
    resumed = model.query(f"{registry.USER}7101", last_evaluated_key=pages.last_evaluated_key)
    assert [item.sk for item in resumed] == expected[2:]
