"""One client as the fan-out sees it: where to post, how, and what waits for it."""

from __future__ import annotations

import asyncio
from collections import deque

from kstock_streamer.fanout.signing import connection_url

TICK, BATCH = "tick", "batch"


class Connection:
    """Plain state shared by the index, the scheduler and delivery (slots: there are thousands)."""

    __slots__ = (
        "id",
        "url",
        "host",
        "mode",
        "window",
        "symbols",
        "topics",
        "queue",
        "sent",
        "busy",
        "timer",
        "last_sent",
        "retry_at",
        "backoff",
        "failures",
        "gone",
    )

    def __init__(self, connection_id: str, endpoint: str, mode: str, window: float) -> None:
        self.id = connection_id
        self.url = connection_url(endpoint, connection_id)
        self.host = endpoint.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        self.mode = mode
        self.window = window
        self.symbols: set[str] = set()
        self.topics: set[str] = set()
        self.queue: deque[bytes] = deque()  # individual messages (ticks in tick mode, theme updates)
        self.sent: dict[str, int] = {}  # batch mode: symbol -> number of the newest tick it has been sent
        self.busy = False  # a call (or a run of calls) is out
        self.timer: asyncio.TimerHandle | None = None  # its window or back-off ends then
        self.last_sent = float("-inf")
        self.retry_at = 0.0
        self.backoff = 0.0
        self.failures = 0
        self.gone = False

    @property
    def idle(self) -> bool:
        """Nothing out and nothing timed: only a tick (or an announcement) can start a call."""
        return not self.busy and self.timer is None
