"""Fan-out workers split the connections by a stable hash of their ids: each id has exactly one owner."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kstock_streamer.fanout.partition import Partition, stable_hash

IDS = [f"conn-{i:05d}=" for i in range(3000)]


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_every_connection_has_exactly_one_owner(count):
    partitions = [Partition(i, count) for i in range(count)]
    for cid in IDS:
        assert sum(p.owns(cid) for p in partitions) == 1


def test_the_split_is_roughly_even():
    owned = [sum(Partition(i, 2).owns(cid) for cid in IDS) for i in range(2)]
    assert min(owned) > 0.4 * len(IDS)


def test_the_hash_is_the_same_in_another_process():
    """Not Python's salted hash(): a worker in another process must agree on the owner."""
    code = "from kstock_streamer.fanout.partition import stable_hash; print(stable_hash('abcDEF123='))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == stable_hash("abcDEF123=")


def test_rank_among_the_members_by_id():
    members = ["worker-b", "worker-a", "worker-c"]
    assert Partition.among("worker-a", members) == Partition(0, 3)
    assert Partition.among("worker-c", members) == Partition(2, 3)
    assert Partition.among("worker-z", []) == Partition.whole()  # itself, even before it is listed


def test_one_worker_owns_everything():
    whole = Partition.whole()
    assert all(whole.owns(cid) for cid in IDS)


@pytest.mark.parametrize(("index", "count"), [(0, 0), (2, 2), (-1, 2)])
def test_an_impossible_partition_is_refused(index, count):
    with pytest.raises(ValueError, match="partition"):
        Partition(index, count)
