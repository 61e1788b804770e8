"""What the fan-out is told (options) and what it counts (stats)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kstock.config import Settings, get_settings


@dataclass
class FanoutOptions:
    concurrency: int = 256
    queue_limit: int = 1000
    timeout: float = 5.0
    default_window: float = 0.1  # seconds, batch mode without a window of its own
    backoff_initial: float = 0.05
    backoff_max: float = 5.0
    max_failures: int = 5  # consecutive failed calls before a message is given up
    books_per_second: float = 2.0  # order books of one symbol per connection (WS_ORDERBOOK_MAX_PER_SECOND)
    region: str = "ap-northeast-2"
    # issue 18: one of K fan-out workers (--role fanout) sharing the connections through Redis
    # (fanout/membership.py); None: the only fan-out, it owns every connection
    worker_id: str | None = None
    heartbeat: float = 2.0  # seconds between membership refreshes (FANOUT_HEARTBEAT_SECONDS)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> FanoutOptions:
        s = settings or get_settings()
        return cls(
            concurrency=s.fanout_concurrency,
            queue_limit=s.fanout_queue_limit,
            timeout=s.fanout_timeout,
            default_window=s.ws_batch_window_ms / 1000,
            books_per_second=s.ws_orderbook_max_per_second,
            region=s.aws_region,
            heartbeat=s.fanout_heartbeat_seconds,
        )

    def window(self, window_ms: int | None) -> float:
        """Seconds of a batch window: the connection's own, else the default."""
        return window_ms / 1000 if window_ms else self.default_window


def _per_mode() -> dict[str, int]:
    return {"tick": 0, "batch": 0}


@dataclass
class FanoutStats:
    calls: dict[str, int] = field(default_factory=_per_mode)
    messages: dict[str, int] = field(default_factory=_per_mode)  # ticks delivered
    wanted: dict[str, int] = field(default_factory=_per_mode)  # one-by-one deliveries
    theme_updates: int = 0
    signals: int = 0  # issue 15: live buy signals delivered to the signals topic
    status_messages: int = 0  # issue 17: "stalled" / "resumed" messages queued to clients
    books: int = 0  # issue 18: order books queued to clients (after pacing)
    gone: int = 0
    throttled: int = 0
    failed: int = 0
    dropped: int = 0
    announcements: int = 0
    rebuilds: int = 0
    rebalances: int = 0  # the workers' membership changed: the index rebuilt for a new share
    last_broadcast_at: float | None = None
