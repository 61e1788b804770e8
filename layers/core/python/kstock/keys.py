"""Every Redis key and channel name kstock uses. Nothing else spells a key.

The channels and latest values of ticks and order books are contracts other parts depend on
(docs/architecture.md, "Redis keys and channels").
"""

from __future__ import annotations


def realtime_channel(symbol: str) -> str:
    """Pub/sub channel of one symbol's ticks."""
    return f"stock:realtime:{symbol}"


REALTIME_CHANNEL_PATTERN = "stock:realtime:*"


def latest_price(symbol: str) -> str:
    """Latest price JSON of a symbol, with a short TTL."""
    return f"price:{symbol}"


def orderbook_channel(symbol: str) -> str:
    """Pub/sub channel of one symbol's order books (the contract's ``orderbook`` message)."""
    return f"stock:orderbook:{symbol}"


ORDERBOOK_CHANNEL_PATTERN = "stock:orderbook:*"


def latest_orderbook(symbol: str) -> str:
    """Latest order-book JSON of a symbol, with a short TTL (the streamer's price TTL)."""
    return f"orderbook:{symbol}"


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


# -- streamer ------------------------------------------------------------------------------------

TICK_STREAM = "ticks:stream"
"""Redis stream of published ticks awaiting the tick writer (one entry per KIS frame)."""

TICK_WRITER_GROUP = "tick-writer"

TICK_DEAD_LETTERS = "ticks:dead"
"""Redis stream of tick-stream entries the writer could not store (malformed): kept for inspection."""

DEMAND = "ws:demand"
"""Hash symbol -> number of WebSocket subscriptions (kept by the WebSocket handlers)."""

CONTROL_CHANNEL = "ws:control"
"""Pub/sub channel of demand changes, announced by the WebSocket handlers to the streamer."""

DEMAND_USERS = "ws:demand:users"
"""Hash symbol -> distinct users subscribed to it (what KIS slots are shared by; issue 17, finding 5)."""

DEMAND_BY_USER = "ws:demand:by-user"
"""Hash ``{symbol}|{user}`` -> that user's subscriptions of the symbol (the count behind DEMAND_USERS)."""

STREAMER_EPOCH = "streamer:epoch"
"""Set by the streamer, never expiring: when it is missing, Redis came back empty and demand is rebuilt
from the connection registry (issue 17, finding 1)."""

STREAM_STATUS = "stream:status"
"""Pub/sub channel of ``{"type":"status","stream":"stalled"|"resumed",...}``: the streamer says the KIS
feed stalled or resumed, the fan-out sends it to every WebSocket client (issue 17, finding 7)."""

WATCHLIST = "streamer:watchlist"
"""Set of symbols other jobs want streamed (e.g. the theme sync's top movers)."""

# -- several KIS app keys: who holds which KIS registration (issue 18, part 5) -------------------------

KIS_SLOT_SESSIONS = "kis:slots:sessions"
"""Sorted set KIS key index -> lease expiry (epoch ms): the live ingest sessions, one per app key, each renewing
its lease every plan interval (``KIS_SLOT_LEASE_SECONDS``)."""

KIS_SLOT_TOKENS = "kis:slots:tokens"
"""Hash KIS key index -> the id of the process holding that index's lease (a second process on one key is
refused its lease, as KIS refuses its session)."""

KIS_SLOT_OWNERS = "kis:slots:owners"
"""Hash planned name (a symbol, or ``BOOK#{symbol}``) -> the KIS key index whose session registers it: one
owner per name, so no name is registered twice."""


def kis_slot_held(index: int) -> str:
    """Set of the names one KIS key's session holds (its count is checked against the session's 41)."""
    return f"kis:slots:held:{index}"


def streamer_key_status(index: int) -> str:
    """``streamer:status`` of the ingest streamer of KIS key ``index`` > 0 (key 0's is ``streamer:status``)."""
    return f"streamer:status:kis:{index}"


STREAMER_STATUS = "streamer:status"
"""JSON health of the running streamer (slots, polled symbols, rates, lags, failing tasks, ``reportedAt``),
refreshed every second; /health reads it."""

FANOUT_WORKERS = "fanout:workers"
"""Sorted set of live fan-out workers: worker id -> heartbeat expiry (Redis ``TIME`` seconds). K workers
split the connections by a hash of their ids; each worker's share is its rank here (issue 18)."""

FANOUT_MEMBERS_CHANNEL = "fanout:members"
"""Pub/sub channel: a fan-out worker joined or left; the others re-read FANOUT_WORKERS at once."""


def fanout_worker_status(worker_id: str) -> str:
    """JSON status of one fan-out worker (``--role fanout``), refreshed every second."""
    return f"fanout:status:{worker_id}"


MARKET_LOAD = "kstock:market-load"
"""JSON progress of the local stack's first market load (daily history, market data): ``state`` loading or
loaded, ``done`` / ``total`` requests. Only `kstock up` writes it; /health reports it."""


# -- REST API: rate limit and response caches (issue 7) -------------------------------------------


def rate_limit(client: str) -> str:
    """Request counter of one client (``user:{id}`` or ``ip:{address}``) for the current window."""
    return f"ratelimit:{client}"


def company_info(company_id: int) -> str:
    """Cached company detail (without the live price), TTL 1 h, dropped when market data refresh."""
    return f"cache:company:{company_id}"


RANKINGS_COMPANIES = "cache:rankings:companies"
"""Hash page-key -> cached market-cap ranking page (TTL 5 min, deleted on market data refresh)."""

RANKINGS_INDUSTRIES = "cache:rankings:industries"
"""Hash page-key -> cached industry ranking page."""

RANKINGS_INDUSTRY_COMPANIES = "cache:rankings:industry-companies"
"""Hash industry+page-key -> cached ranking of the companies of one industry."""

RANKING_HASHES = (RANKINGS_COMPANIES, RANKINGS_INDUSTRIES, RANKINGS_INDUSTRY_COMPANIES)
"""Every cached ranking: dropped together when the figures under them change."""

MARKET_DATA_GENERATION = "cache:marketdata:generation"
"""Counter bumped by every market-data refresh: a cache entry computed before a bump is never stored."""


# -- WebSocket fan-out (issue 6) --------------------------------------------------------------------

THEME_UPDATES = "themes:updates"
"""Pub/sub channel of theme changes (JSON objects); the fan-out sends each as ``{"type":"theme_update",...}``
to the connections subscribed to the ``themes`` topic."""


# -- theme sync (issue 14) ----------------------------------------------------------------------------

THEMES_LIST_CACHE = "cache:themes:list"
"""Cached GET /themes answer (a few seconds; deleted on every theme_update)."""

THEMES_METRICS_CACHE = "cache:themes:metrics"
"""Cached GET /themes/metrics answer (a few seconds; deleted on every theme_update)."""


def theme_detail_cache(theme_id: int) -> str:
    """Cached GET /themes/{themeId} answer (a few seconds; deleted on every theme_update)."""
    return f"cache:themes:detail:{theme_id}"


THEME_DETAIL_CACHE_PATTERN = "cache:themes:detail:*"


# -- watchlist (issue 15) -----------------------------------------------------------------------------

WATCHLIST_REASONS = "streamer:watchlist:reasons"
"""Hash symbol -> JSON {rank, tradedValue, reasons[]}: why each symbol of WATCHLIST is on it (/ws/metrics)."""

WATCHLIST_SAFE = "watchlist:safe"
"""Set of the symbols that passed the hourly safety filter (the 10-minute ranking reads it)."""

SIGNAL_UPDATES = "signals:updates"
"""Pub/sub channel of live buy signals ``{"type":"signal","symbol","rule","price","time"}`` the streamer's
indicator worker publishes; the fan-out sends each to the connections subscribed to the ``signals`` topic."""


# -- reliability: login throttle (issue 17) ------------------------------------------------------------


def login_failures(scope: str, subject: str) -> str:
    """Hash {failures, lockedUntil} of failed logins of one account (``account``, subject = a digest
    of the email, never the email) or one IP (``ip``); expires after a quiet hour."""
    return f"login:failures:{scope}:{subject}"
