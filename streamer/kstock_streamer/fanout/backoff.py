"""Per-connection back-off: a throttled or failing client waits, exponentially and with jitter;
the others go on. Its queued messages stay; after ``max_failures`` failed calls in a row (not
throttling: something is wrong with it) the message at the head is given up."""

from __future__ import annotations

import random

from kstock_streamer.fanout.connection import Connection


def succeeded(conn: Connection) -> None:
    conn.backoff, conn.failures = 0.0, 0


def count_failure(conn: Connection, max_failures: int) -> bool:
    """One more failed call; True when the message it carried should be given up."""
    conn.failures += 1
    if conn.failures < max_failures:
        return False
    conn.failures = 0
    return True


def back_off(conn: Connection, now: float, initial: float, maximum: float) -> None:
    """Double the connection's pause (from ``initial``, at most ``maximum``) and set when it may call again."""
    conn.backoff = min(max(conn.backoff * 2, initial), maximum)
    conn.retry_at = now + conn.backoff * random.uniform(0.8, 1.2)
