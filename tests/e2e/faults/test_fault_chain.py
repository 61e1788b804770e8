"""The judge of lost and duplicated ticks (local/kstock_local/chaos/ticks.py), on hand-made chains:
it must see a trade missing, a trade twice, and say nothing of an intact chain. No stack needed."""

from __future__ import annotations

from kstock_local.chaos.ticks import judge

# (volume, accumulated volume) in stream order; one publish step can carry several trades
INTACT = [(10, 100), (5, 105), (2, 110), (3, 110), (7, 117)]


def test_an_intact_chain_has_nothing_lost_or_twice():
    chain = judge("005930", INTACT)
    assert chain.intact and chain.steps == 3 and chain.ticks == 5


def test_a_missing_trade_is_lost_shares():
    chain = judge("005930", [t for t in INTACT if t != (2, 110)])
    assert (chain.lost_shares, chain.duplicated_shares, chain.short_steps) == (2, 0, 1)


def test_a_whole_missing_step_shows_in_the_next_one():
    chain = judge("005930", [t for t in INTACT if t[1] != 105])
    assert (chain.lost_shares, chain.duplicated_shares) == (5, 0)


def test_a_trade_stored_twice_is_duplicated_shares():
    chain = judge("005930", [*INTACT[:4], (3, 110), INTACT[4]])
    assert (chain.lost_shares, chain.duplicated_shares, chain.long_steps) == (0, 3, 1)


def test_a_new_session_is_not_judged():
    chain = judge("005930", [*INTACT, (4, 4), (6, 10)])
    assert chain.resets == 1 and chain.intact
