"""kstock bench fanout --workers: the workers' statuses read as one fan-out, and runs side by side."""

from __future__ import annotations

from typing import Any

from kstock_local.bench.fanout import combined, print_side_by_side


def _worker(index: int, count: int, *, ready: bool = True, calls: int = 10, queued: int = 0) -> dict[str, Any]:
    return {
        "fanout": {
            "ready": ready,
            "partition": {"index": index, "count": count},
            "calls": {"tick": calls, "batch": 0},
            "oneByOne": {"tick": calls, "batch": 0},
            "gone": 1,
            "queued": queued,
            "subscriptions": 500,
            "connections": 500,
        }
    }


def test_two_workers_add_up_once_both_know_they_are_two():
    total = combined([_worker(0, 2, calls=10, queued=3), _worker(1, 2, calls=32, queued=4)], 2)
    assert total["ready"] and total["calls"]["tick"] == 42 and total["oneByOne"]["tick"] == 42
    assert total["queued"] == 7 and total["subscriptions"] == 1000 and total["gone"] == 2


def test_not_ready_while_a_worker_is_missing_rebuilding_or_still_alone():
    assert not combined([_worker(0, 2)], 2)["ready"]  # the second has not reported
    assert not combined([_worker(0, 2), _worker(1, 2, ready=False)], 2)["ready"]
    assert not combined([_worker(0, 1), _worker(0, 2)], 2)["ready"]  # one has not seen the other yet


def test_side_by_side_prints_each_run_in_a_column(capsys):
    run: dict[str, Any] = {
        "messages_per_s": 8000,
        "ticks_per_s": 8000,
        "trades_per_s": 400,
        "p50_ms": 15.0,
        "p99_ms": 116.0,
        "lost": 0,
        "expected": 80000,
        "setup_seconds": 35.2,
        "connect_seconds": 32.9,
        "cpu_percent": {"fanout-1": 40, "cloud": 29},
    }
    print_side_by_side([{**run, "workers": 1}, {**run, "workers": 2, "messages_per_s": 12000, "cpu_percent": {}}])
    out = capsys.readouterr().out
    assert "1 worker process" in out and "2 worker processes" in out
    assert "1.50x" in out and "CPU % fanout-1" in out
