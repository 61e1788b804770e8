"""The fan-out's connection index: its maps stay in step through every change (no private names)."""

from __future__ import annotations

import pytest

from kstock_streamer.fanout import Connection, ConnectionIndex


def _conn(cid: str, mode: str = "tick") -> Connection:
    return Connection(cid, "http://127.0.0.1:1/Prod", mode, 0.1)


def _consistent(index: ConnectionIndex) -> None:
    """Every map agrees with the connections' own symbols and topics, and holds no empty entry."""
    for symbol, subs in index.by_symbol.items():
        assert subs, f"empty entry for {symbol}"
        for cid, conn in subs.items():
            assert index.get(cid) is conn and symbol in conn.symbols
            in_mode = index.batching(symbol) if conn.mode == "batch" else index.ticking(symbol)
            other = index.ticking(symbol) if conn.mode == "batch" else index.batching(symbol)
            assert cid in in_mode and cid not in other
    for conn in index.connections.values():
        for symbol in conn.symbols:
            assert conn.id in index.subscribers(symbol)
        for topic in conn.topics:
            assert conn.id in index.topic(topic)
    for topic, subs in index.by_topic.items():
        assert subs and all(topic in conn.topics for conn in subs.values())


def test_subscribe_and_unsubscribe_answer_who_gets_a_symbol_and_a_topic() -> None:
    index = ConnectionIndex()
    a, b = _conn("a"), _conn("b", "batch")
    index.add(a)
    index.add(b)
    index.subscribe(a, ["005930", "000660"])
    index.subscribe(b, ["005930"])
    index.subscribe_topics(b, ["themes"])
    _consistent(index)
    assert sorted(index.subscribers("005930")) == ["a", "b"] and index.subscribers("000660") == ["a"]
    assert list(index.ticking("005930")) == ["a"] and list(index.batching("005930")) == ["b"]
    assert list(index.topic("themes")) == ["b"] and index.topic_counts() == {"themes": 1}
    assert index.modes() == {"tick": 1, "batch": 1} and len(index) == 2
    assert index.subscription_count() == 3 and index.symbol_count() == 2

    index.unsubscribe(a, ["000660", "not-subscribed"])
    index.unsubscribe_topics(b, ["themes"])
    _consistent(index)
    assert not index.wants("000660") and index.subscribers("000660") == [] and not index.by_topic
    assert a.symbols == {"005930"} and b.topics == set()


def test_a_new_batch_subscriber_starts_asleep_and_has_seen_what_traded_before() -> None:
    index = ConnectionIndex(seen=lambda symbol: 41 if symbol == "005930" else 0)
    conn = _conn("c", "batch")
    index.add(conn)
    index.subscribe(conn, ["005930"])
    assert conn.sent == {"005930": 41} and index.asleep_symbols() == ["005930"] and index.is_asleep(conn)
    assert list(index.take_sleepers("005930")) == ["c"] and index.asleep_symbols() == []
    index.sleep(conn)
    assert index.is_asleep(conn)
    index.wake(conn)
    assert not index.is_asleep(conn) and list(index.take_sleepers("005930")) == []


def test_switching_mode_moves_a_connection_between_the_tick_and_batch_maps() -> None:
    index = ConnectionIndex()
    conn = _conn("c")
    index.add(conn)
    index.subscribe(conn, ["005930", "035720"])
    index.set_mode(conn, "batch", 0.5)
    _consistent(index)
    assert conn.mode == "batch" and conn.window == 0.5
    assert not index.ticking("005930") and list(index.batching("035720")) == ["c"]
    index.set_mode(conn, "tick", 0.2)
    _consistent(index)
    assert list(index.ticking("005930")) == ["c"] and not index.batching("005930") and index.asleep_symbols() == []


def test_remove_takes_every_subscription_and_spares_a_newer_connection_with_the_same_id() -> None:
    index = ConnectionIndex()
    old = _conn("c", "batch")
    index.add(old)
    index.subscribe(old, ["005930"])
    index.subscribe_topics(old, ["signals"])
    index.remove(old)
    _consistent(index)
    assert len(index) == 0 and not index.by_symbol and not index.by_topic and index.asleep_symbols() == []

    new = _conn("c")
    index.add(new)
    index.remove(old)  # a late removal of the earlier connection
    assert index.get("c") is new


def test_clear_returns_what_it_held_for_a_rebuild() -> None:
    index = ConnectionIndex()
    conn = _conn("c")
    index.add(conn)
    index.subscribe(conn, ["005930"])
    assert index.clear() == {"c": conn}
    assert len(index) == 0 and not index.wants("005930") and index.subscribers("005930") == []


def test_what_the_index_hands_out_cannot_be_changed_behind_its_back() -> None:
    index = ConnectionIndex()
    with pytest.raises(TypeError):
        index.ticking("005930")["x"] = _conn("x")  # type: ignore[index]
    assert index.subscribers("005930") == []
