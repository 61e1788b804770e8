"""The WebSocket handlers' announcements on ``ws:control``, read into one typed value.

``{"event": "subscribe"|"unsubscribe"|"disconnect", "connectionId": ..., "symbols": [...],
"topics": [...], "books": [...], "mode": "tick"|"batch", "windowMs": int, "domainName": ..., "stage": ...}``
(``books``: the symbols whose order book the change is about, issue 18).
Anything else on the channel (e.g. a bare wake-up for the planner) is not for the fan-out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kstock.realtime import registry

SUBSCRIBE, UNSUBSCRIBE, DISCONNECT = "subscribe", "unsubscribe", "disconnect"


@dataclass(frozen=True)
class Announcement:
    event: str | None
    connection_id: str
    symbols: list[str]
    topics: list[str]
    mode: str | None  # a mode the registry knows, else None
    window_ms: int | None
    domain_name: str | None
    stage: str | None
    books: list[str] = field(default_factory=list)


def _strings(value: Any) -> list[str]:
    return [item for item in value or () if isinstance(item, str)]


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse(text: str) -> Announcement | None:
    """The announcement in ``text``; None when it is not one (not JSON, no connection id)."""
    try:
        message = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("connectionId"), str):
        return None
    mode, window_ms = message.get("mode"), message.get("windowMs")
    return Announcement(
        event=_string(message.get("event")),
        connection_id=message["connectionId"],
        symbols=_strings(message.get("symbols")),
        topics=_strings(message.get("topics")),
        mode=mode if mode in registry.MODES else None,
        window_ms=window_ms if isinstance(window_ms, int) else None,
        domain_name=_string(message.get("domainName")),
        stage=_string(message.get("stage")),
        books=_strings(message.get("books")),
    )
