"""Demand derived from the registry's answer, compared with what Redis holds (issue 17, findings 1, 4
and 5): the pure part of the rebuild and the reconciler."""

from __future__ import annotations

from kstock.realtime.demand import Demand, Drift, compare, from_hashes, from_subscriptions, steady


def test_registry_subscriptions_become_counts_distinct_users_and_per_user_counts() -> None:
    live: dict[str, dict[str, int | None]] = {"005930": {"a": 1, "b": 1, "c": 2}, "000660": {"d": None}}
    truth = from_subscriptions(live)
    assert truth.counts == {"005930": 3, "000660": 1}
    assert truth.users == {"005930": 2, "000660": 1}
    assert truth.by_user == {"005930|1": 2, "005930|2": 1, "000660|c:d": 1}  # no user: the connection alone


def test_drift_lists_each_name_that_differs_with_both_figures() -> None:
    truth = Demand({"005930": 1, "000660": 1}, {"005930": 1, "000660": 1}, {"005930|1": 1, "000660|1": 1})
    held = from_hashes(
        {
            "ws:demand": {"005930": "7", "035720": "1"},
            "ws:demand:users": {"005930": "1", "000660": "1"},
            "ws:demand:by-user": {"005930|1": "7", "000660|1": "1"},
        }
    )
    drift = compare(held, truth)
    assert drift.subscriptions == {"005930": (7, 1), "035720": (1, 0), "000660": (0, 1)}
    assert drift.users == {} and drift.by_user == {"005930|1": (7, 1)}
    assert drift and not compare(truth, truth)
    figures = drift.figures()
    assert figures["symbols"] == 3 and figures["subscriptions"] == {
        "000660": [0, 1],
        "005930": [7, 1],
        "035720": [1, 0],
    }


def test_only_names_unchanged_while_the_registry_was_read_are_repaired() -> None:
    """A subscription announced during the Scan moved its count: it is left to the next round."""
    before = Demand({"005930": 7, "000660": 2})
    after = Demand({"005930": 7, "000660": 3})
    drift = Drift({"005930": (7, 1), "000660": (3, 1)})
    assert steady(drift, before, after).subscriptions == {"005930": (7, 1)}
