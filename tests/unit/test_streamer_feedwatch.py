"""The KIS feed watch (issue 17, finding 7): silence past the threshold is a stall, told once, and
anything heard again is a resumption, told once. Times are passed in."""

from __future__ import annotations

from kstock_streamer.feedwatch import RESUMED, STALLED, FeedWatch

T0 = 1_767_000_000.0  # wall-clock seconds, as KIS messages are stamped


def test_silence_within_the_threshold_is_not_a_stall_and_nothing_is_told() -> None:
    watch = FeedWatch(stall_seconds=20, started_at=T0)
    watch.observe(T0 + 5, T0 + 25)  # a PINGPONG at +5, 20 s ago: not more than the threshold
    assert watch.state == RESUMED and watch.pending(T0 + 25) is None and watch.problem(T0 + 25) is None


def test_a_stall_is_told_once_with_the_last_message_time_and_named_for_health() -> None:
    watch = FeedWatch(stall_seconds=20, started_at=T0)
    watch.observe(T0 + 5, T0 + 26)
    message = watch.pending(T0 + 26)
    assert message == {"type": "status", "stream": STALLED, "since": "2025-12-29T09:20:05.000Z"}
    watch.told(message)
    watch.observe(T0 + 5, T0 + 39)
    assert watch.pending(T0 + 39) is None  # told already
    assert watch.problem(T0 + 39) == "KIS feed stalled for 34s (no frame and no PINGPONG)"
    assert watch.wire(T0 + 39)["state"] == STALLED and watch.wire(T0 + 39)["silentSeconds"] == 34.0


def test_a_message_after_a_stall_is_a_resumption_told_once() -> None:
    watch = FeedWatch(stall_seconds=20, started_at=T0)
    watch.observe(None, T0 + 21)  # a session that never said anything stalls too
    watch.told(watch.pending(T0 + 21) or {})
    watch.observe(T0 + 40, T0 + 40.5)
    resumed = watch.pending(T0 + 40.5)
    assert resumed is not None and resumed["stream"] == RESUMED and watch.problem(T0 + 40.5) is None
    watch.told(resumed)
    watch.observe(T0 + 41, T0 + 42)
    assert watch.pending(T0 + 42) is None


def test_a_stall_not_yet_told_and_over_before_it_was_is_never_told() -> None:
    """Redis was down while it lasted: the clients hear of neither."""
    watch = FeedWatch(stall_seconds=20, started_at=T0)
    watch.observe(T0, T0 + 30)
    assert watch.pending(T0 + 30) is not None  # not published (Redis down): not told
    watch.observe(T0 + 31, T0 + 31)
    assert watch.pending(T0 + 31) is None
