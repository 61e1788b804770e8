"""kstock up --fanout-workers N: the processes it starts (issue 18)."""

from __future__ import annotations

import pytest

from kstock_local.cli.main import build_parser, cmd_up
from kstock_local.stack import _fanout_row, streamer_processes

ENV = {"REDIS_URL": "redis://127.0.0.1:1/0"}


def test_one_worker_is_the_fanout_inside_the_streamer():
    built = streamer_processes(ENV, "http://127.0.0.1:4566", "ap-northeast-2", 1)
    processes, workers = built.processes, built.fanout_workers
    assert [p.name for p in processes] == ["streamer"] and workers == []
    assert "STREAMER_FANOUT" not in processes[0].env  # as before: the streamer's own setting decides
    assert processes[0].argv[-1] == "kstock_streamer"
    assert "inside the streamer" in _fanout_row(workers)[1]


def test_n_workers_beside_a_streamer_without_its_fanout():
    built = streamer_processes(ENV, "http://127.0.0.1:4566", "ap-northeast-2", 3)
    processes, workers = built.processes, built.fanout_workers
    streamer, *fanouts = processes
    assert streamer.env["STREAMER_FANOUT"] == "off" and streamer.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert [p.name for p in fanouts] == ["fanout-1", "fanout-2", "fanout-3"]
    assert all(p.argv[-3:] == ["kstock_streamer", "--role", "fanout"] for p in fanouts)
    ports = [p.env["STREAMER_HEALTH_PORT"] for p in fanouts]
    assert len(set(ports)) == 3 and [str(port) for _, port in workers] == ports
    assert all(p.env["REDIS_URL"] == ENV["REDIS_URL"] for p in fanouts)
    assert "3 workers" in _fanout_row(workers)[1]


def test_several_kis_keys_add_an_ingest_streamer_per_further_key_beside_the_workers():
    env = {**ENV, "KIS_APP_KEYS": "k0:s0,k1:s1,k2:s2"}
    built = streamer_processes(env, "http://127.0.0.1:4566", "ap-northeast-2", 2)
    processes = built.processes
    assert [p.name for p in processes] == ["streamer", "streamer-kis-1", "streamer-kis-2", "fanout-1", "fanout-2"]
    ingest = processes[1:3]
    assert [p.env["KIS_KEY_INDEX"] for p in ingest] == ["1", "2"]
    assert all(p.env["STREAMER_FANOUT"] == "off" and p.argv[-1] == "--no-writer" for p in ingest)
    assert "KIS_KEY_INDEX" not in processes[0].env and "KIS_KEY_INDEX" not in processes[3].env
    assert [name for name, _ in built.key_streamers] == ["streamer-kis-1", "streamer-kis-2"]
    assert [name for name, _ in built.fanout_workers] == ["fanout-1", "fanout-2"]
    assert len({port for _, port in [*built.key_streamers, *built.fanout_workers]}) == 4


def test_up_refuses_zero_workers(capsys):
    args = build_parser().parse_args(["up", "--fanout-workers", "0"])
    assert cmd_up(args) == 2
    assert "--fanout-workers" in capsys.readouterr().err


@pytest.mark.parametrize("count", ["1", "2"])
def test_up_takes_the_worker_count(count):
    assert build_parser().parse_args(["up", "--fanout-workers", count]).fanout_workers == int(count)
