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


# -- KIS -----------------------------------------------------------------------------------------
# App keys are secrets: keys carry a short hash of the app key, never the key itself.


def kis_token(app_id: str) -> str:
    """Cached KIS access token JSON of one app key (expires with the token)."""
    return f"kis:token:{app_id}"


def kis_token_issue_guard(app_id: str) -> str:
    """Set for a minute after a token issue: KIS allows one issue per minute per app key."""
    return f"kis:token:issued:{app_id}"


# -- auth ----------------------------------------------------------------------------------------

def revoked_token(token_id: str) -> str:
    """Present while a logged-out token would still be valid."""
    return f"auth:revoked:{token_id}"


# -- backfill ------------------------------------------------------------------------------------

def backfill_progress(job: str) -> str:
    """Hash of one `kstock backfill` run: total requests and how many are done."""
    return f"backfill:job:{job}"
