"""The KIS sessions' slots as the ingest streamers report them (issue 18 part 5: several app keys).

Key 0's streamer writes ``streamer:status``; the streamers of keys 1, 2, ... write
``streamer:status:kis:{i}`` and are listed in ``kis:slots:sessions``. ``/ws/metrics`` and ``/health``
both count the slots over every key, so neither says 0 while key 1 streams everything.
"""

from __future__ import annotations

import json
from typing import Any, cast

from kstock import keys


def key_sessions(client: Any) -> list[dict[str, Any]]:
    """The status of the ingest streamers of KIS keys 1, 2, ...; empty with one key."""
    indices = [int(i) for i in cast(list[str], client.zrange(keys.KIS_SLOT_SESSIONS, 0, -1)) if i != "0"]
    if not indices:
        return []
    raws = cast(list[str | None], client.mget([keys.streamer_key_status(i) for i in sorted(indices)]))
    return [json.loads(raw) for raw in raws if raw]


def slots_over_keys(statuses: list[dict[str, Any]]) -> dict[str, Any]:
    """KIS slots over every key's session: used and limit summed, streamed and polled names joined."""
    reporting = [s for s in statuses if s]
    if len(reporting) <= 1:
        return reporting[0] if reporting else {}
    return {
        "slotsUsed": sum(int(s.get("slotsUsed") or 0) for s in reporting),
        "slotsLimit": sum(int(s.get("slotsLimit") or 0) for s in reporting),
        "streamed": sorted({name for s in reporting for name in s.get("streamed") or []}),
        "polled": [name for s in reporting for name in s.get("polled") or []],
    }
