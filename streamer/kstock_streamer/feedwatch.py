"""Whether the KIS feed is alive: a frame or a PINGPONG within ``KIS_STALL_SECONDS`` (issue 17, finding 7).

A hung KIS (the socket accepts and never answers) looks connected: nothing fails, nothing arrives.
KIS sends a PINGPONG even when nothing trades, so silence longer than the threshold means the feed
stalled. The streamer then tells every WebSocket client (``{"type":"status","stream":"stalled"}``
through the fan-out), both health endpoints name it, and ``resumed`` follows when anything arrives
again. Pure logic: the times are passed in (wall-clock seconds, as KIS messages are stamped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STALLED, RESUMED = "stalled", "resumed"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FeedWatch:
    stall_seconds: float
    started_at: float  # nothing heard yet counts from here (a session that never spoke stalls too)
    last_heard: float | None = None
    stalled_since: float | None = None  # the last message before the silence, while stalled
    announced: str = RESUMED  # what the clients were last told (nothing said means all is well)

    def observe(self, last_message_at: float | None, now: float) -> None:
        """Take the session's last message time (None: nothing yet) as of ``now``."""
        heard = max(last_message_at or self.started_at, self.started_at)
        self.last_heard = heard
        if now - heard > self.stall_seconds:
            if self.stalled_since is None:
                self.stalled_since = heard
        else:
            self.stalled_since = None

    @property
    def state(self) -> str:
        return STALLED if self.stalled_since is not None else RESUMED

    def silent_for(self, now: float) -> float:
        """Seconds without a message (0 before the first observation)."""
        return max(0.0, now - self.last_heard) if self.last_heard is not None else 0.0

    def pending(self, now: float) -> dict[str, Any] | None:
        """The status message the clients have not been told yet, or None."""
        if self.state == self.announced:
            return None
        if self.stalled_since is not None:
            return {"type": "status", "stream": STALLED, "since": _iso(self.stalled_since)}
        return {"type": "status", "stream": RESUMED, "since": _iso(now)}

    def told(self, message: dict[str, Any]) -> None:
        """``message`` (from :meth:`pending`) reached the clients' channel."""
        self.announced = str(message["stream"])

    def problem(self, now: float) -> str | None:
        """The health problem while stalled (the health endpoints prefix ``streamer:``)."""
        if self.stalled_since is None:
            return None
        return f"KIS feed stalled for {self.silent_for(now):.0f}s (no frame and no PINGPONG)"

    def wire(self, now: float) -> dict[str, Any]:
        return {
            "state": self.state,
            "silentSeconds": round(self.silent_for(now), 1),
            "stalledSince": _iso(self.stalled_since) if self.stalled_since is not None else None,
            "stallSeconds": self.stall_seconds,
        }
