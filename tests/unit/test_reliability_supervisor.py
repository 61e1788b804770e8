"""Issue 17, log hygiene: a component crashing at start-up logged a full failure every 1.5 s
(4.4 MB in 14 minutes). Restarts now back off, and identical messages are counted, not repeated."""

from __future__ import annotations

import asyncio
import sys

from support.waiting import wait_for_async

from kstock_local.supervisor import ManagedProcess, RepeatedLog, backoff


def test_restarts_back_off_while_crashing_and_reset_after_a_stable_run():
    delays, delay = [], 0.0
    for _ in range(8):
        delay = backoff(delay, ran_for=0.5, base=1.0, maximum=60.0, stable_after=60.0)
        delays.append(delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert backoff(60.0, ran_for=120.0, base=1.0, maximum=60.0, stable_after=60.0) == 1.0


def test_identical_messages_are_logged_once_then_counted(capsys):
    report = RepeatedLog("streamer")
    for _ in range(12):
        report("crashed: ConnectionError: refused; restarting")
    report("crashed: KeyError: 'x'; restarting")
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "[streamer] crashed: ConnectionError: refused; restarting",
        "[streamer] crashed: ConnectionError: refused; restarting (repeated 10 times)",
        "[streamer] previous message repeated 11 times",
        "[streamer] crashed: KeyError: 'x'; restarting",
    ]


def test_a_crash_looping_child_is_restarted_ever_more_slowly(capsys):
    child = ManagedProcess(
        "crasher",
        [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
        restart_delay=0.01,
        max_restart_delay=0.04,
        stable_after=60.0,
    )

    async def scenario() -> None:
        await child.start()
        try:
            await wait_for_async(lambda: child.restarts >= 5, 30, "five restarts of the crashing child", interval=0.005)
        finally:
            await child.stop()

    asyncio.run(scenario())
    assert child.restarts >= 5
    assert child.next_delay == 0.04  # 0.01, 0.02, 0.04, then capped
    out = capsys.readouterr().out
    assert "[crasher] boom" in out and "restarting in 0s (restart #1)" in out
