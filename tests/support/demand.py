"""Demand starts from nothing in every module that runs a streamer.

The session shares one Redis. Demand lives in three hashes (subscriptions, distinct users, per-user counts)
plus the watchlist; clearing only ``ws:demand`` left another module's user counts, which the planner
ranks first, so 41 leftover symbols could keep a test's one subscriber out of every KIS slot."""

from __future__ import annotations

from typing import Any

from kstock import keys
from kstock.realtime.demand import HASHES

DEMAND_KEYS = (*HASHES, keys.WATCHLIST, keys.WATCHLIST_REASONS, keys.WATCHLIST_SAFE)


def forget_demand(client: Any, *more: str) -> None:
    """Delete every demand hash and the watchlist (and ``more`` keys) from a sync Redis client."""
    client.delete(*DEMAND_KEYS, *more)
