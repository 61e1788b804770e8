"""Every Redis key and channel name kstock uses. Nothing else spells a key.

The first three are contracts other parts depend on (ARCHITECTURE.md, "Contracts").
"""

from __future__ import annotations


def realtime_channel(symbol: str) -> str:
    """Pub/sub channel of one symbol's ticks."""
    return f"stock:realtime:{symbol}"


REALTIME_CHANNEL_PATTERN = "stock:realtime:*"


def latest_price(symbol: str) -> str:
    """Latest price JSON of a symbol, with a short TTL."""
    return f"price:{symbol}"


THEME_TOP_30 = "theme:current_top_30"

HEALTH_PROBE = "kstock:health:probe"
