"""Rank watch: every minute of the session, which stocks just joined the fluctuation top 30, and
which of them deserve a classification.

One poll reads the KIS fluctuation ranking (top 30 risers of KOSPI + KOSDAQ), replaces
``theme:current_top_30`` in Redis (the contract set; its diff is logged) and updates one
``theme_sightings`` row per symbol and KST day in Postgres, which is what decides:

- **debounce** (the seed's ``min_symbol_stable_time``): a symbol is classified only after it stayed
  in the top 30 for ``THEME_SYNC_DEBOUNCE_SECONDS`` without a break (``streak_since``); a flicker
  (in, out, in) starts the wait again, and one that leaves before the wait ends is "debounced away";
- **once a day**: a symbol analysed today is not queued again when it re-enters, unless articles
  about it arrived since that analysis; a 미분류 answer is retried after ``THEME_RETRY_SECONDS``
  while the stock stays in the ranking (at most :data:`MAX_ATTEMPTS` a day);
- **membership marks**: members that left the ranking are marked (``left_at``), members back in it
  unmarked, and each theme remembers when a member was last in the top 30 (``last_in_top_at``); a
  theme with none there for a whole trading day turns inactive.

The state lives in Postgres because Redis is a cache: after a Redis restart the set is empty, every
symbol looks new to the diff, and still nothing is classified twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from redis.exceptions import RedisError

from kstock import cache, keys
from kstock.kis.models import RankEntry
from kstock.market.calendar import KST, previous_trading_day
from kstock.themes import metrics

log = logging.getLogger("kstock.themes.rankwatch")

TOP_N = 30
MAX_ATTEMPTS = 4  # classifications of one symbol per day: the first, new news on re-entry, 미분류 retries
ALL_MARKETS = "0000"  # KIS fid_input_iscd: KOSPI and KOSDAQ together


class InvalidThemeRequest(ValueError):
    """A classification message no retry can process (malformed, or naming no listed company)."""


@dataclass(frozen=True, slots=True)
class Ranked:
    """One row of the ranking, as rank watch keeps it."""

    symbol: str
    name: str
    price: int
    change_percent: float
    volume: int
    traded_value: int  # KRW; price x volume when the ranking does not say

    @classmethod
    def of(cls, entry: RankEntry) -> Ranked:
        value = entry.traded_value if entry.traded_value is not None else entry.price * entry.volume
        return cls(entry.symbol, entry.name, entry.price, float(entry.change_percent), entry.volume, value)


@dataclass(frozen=True, slots=True)
class ClassifyRequest:
    """The ThemeClassifyQueue message: classify ``symbol`` for KST ``day``. ``attempt`` 0 is the first
    analysis of the day; later ones (new news, 미분류 retry) get their own idempotency key."""

    symbol: str
    day: date
    attempt: int = 0

    def message(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "day": self.day.isoformat(), "attempt": self.attempt}

    @classmethod
    def parse(cls, body: object) -> ClassifyRequest:
        if not isinstance(body, Mapping):
            raise InvalidThemeRequest(f"not an object: {str(body)[:80]!r}")
        symbol, day, attempt = body.get("symbol"), body.get("day"), body.get("attempt", 0)
        if not isinstance(symbol, str) or not symbol.isalnum() or not 1 <= len(symbol) <= 9:
            raise InvalidThemeRequest(f"symbol must be a KRX code, not {symbol!r}")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            raise InvalidThemeRequest(f"attempt must be a non-negative integer, not {attempt!r}")
        try:
            parsed = date.fromisoformat(day) if isinstance(day, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise InvalidThemeRequest(f"day must be an ISO date, not {day!r}")
        return cls(symbol, parsed, attempt)


@dataclass
class WatchResult:
    at: datetime
    top: list[str]
    requests: list[ClassifyRequest] = field(default_factory=list)
    entered: list[str] = field(default_factory=list)  # not in the previous set (Redis diff)
    left: list[str] = field(default_factory=list)
    new_today: int = 0
    debounced_away: int = 0
    marked_themes: list[int] = field(default_factory=list)  # themes whose members' in-ranking marks changed
    deactivated: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "top": len(self.top),
            "entered": len(self.entered),
            "left": len(self.left),
            "newToday": self.new_today,
            "debouncedAway": self.debounced_away,
            "queued": len(self.requests),
            "deactivated": len(self.deactivated),
        }


def kst_day(moment: datetime) -> date:
    return moment.astimezone(KST).date()


def top_of(entries: Iterable[Ranked], limit: int = TOP_N) -> list[Ranked]:
    """The ``limit`` biggest risers, one row per symbol (a merged KOSPI + KOSDAQ answer may repeat)."""
    best: dict[str, Ranked] = {}
    for row in entries:
        if row.change_percent > 0 and (row.symbol not in best or best[row.symbol].change_percent < row.change_percent):
            best[row.symbol] = row
    return sorted(best.values(), key=lambda r: (-r.change_percent, r.symbol))[:limit]


def fetch_ranking(client: Any) -> list[Ranked]:
    """The fluctuation ranking (FHPST01700000) of both markets from a :class:`~kstock.kis.rest.KisRestClient`."""
    return top_of(Ranked.of(entry) for entry in client.fluctuation_rank(ALL_MARKETS))


_UPSERT_SIGHTING = """
    INSERT INTO theme_sightings AS s (day, symbol, name, first_seen_at, last_seen_at, streak_since,
                                      price, change_percent, volume, traded_value)
    VALUES (%(day)s, %(symbol)s, %(name)s, %(now)s, %(now)s, %(now)s,
            %(price)s, %(change_percent)s, %(volume)s, %(traded_value)s)
    ON CONFLICT (day, symbol) DO UPDATE SET
        name = EXCLUDED.name, last_seen_at = EXCLUDED.last_seen_at,
        streak_since = coalesce(s.streak_since, EXCLUDED.streak_since),
        price = EXCLUDED.price, change_percent = EXCLUDED.change_percent,
        volume = EXCLUDED.volume, traded_value = EXCLUDED.traded_value
    RETURNING (xmax = 0) AS inserted
"""

# Left the top 30: the streak ends. Never queued means it left before the debounce elapsed.
_END_STREAKS = """
    UPDATE theme_sightings SET streak_since = NULL
    WHERE day = %(day)s AND streak_since IS NOT NULL AND NOT (symbol = ANY(%(top)s))
    RETURNING queued_at IS NULL AS debounced_away
"""

# Who to classify now (see the module docstring): stayed long enough, and never queued today, or
# back in the ranking with news newer than its analysis, or a 미분류 answer due for its retry.
_DUE = """
    SELECT s.symbol, s.attempts FROM theme_sightings s
    LEFT JOIN companies c ON c.symbol = s.symbol
    WHERE s.day = %(day)s AND s.streak_since IS NOT NULL AND s.streak_since <= %(ready_before)s
      AND s.attempts < %(max_attempts)s
      AND (s.queued_at IS NULL
           OR (s.analysed_at IS NOT NULL AND s.queued_at <= s.analysed_at AND (
                   (s.retry_pending AND s.analysed_at <= %(retry_before)s)
                OR (s.queued_at < s.streak_since AND EXISTS (
                       SELECT 1 FROM news_companies nc JOIN news n ON n.id = nc.news_id
                       WHERE nc.company_id = c.id AND n.fetched_at > s.analysed_at)))))
    ORDER BY s.change_percent DESC NULLS LAST, s.symbol
"""

_MARK_LEFT = """
    UPDATE theme_members m SET left_at = %(now)s
    FROM companies c WHERE c.id = m.company_id AND m.left_at IS NULL AND NOT (c.symbol = ANY(%(top)s))
    RETURNING m.theme_id
"""

_MARK_BACK = """
    UPDATE theme_members m SET left_at = NULL
    FROM companies c WHERE c.id = m.company_id AND m.left_at IS NOT NULL AND c.symbol = ANY(%(top)s)
    RETURNING m.theme_id
"""

_TOUCH_THEMES = """
    UPDATE themes t SET last_in_top_at = %(now)s
    WHERE t.id IN (SELECT m.theme_id FROM theme_members m JOIN companies c ON c.id = m.company_id
                   WHERE c.symbol = ANY(%(top)s))
"""

# A whole trading day (the previous one) without a member in the top 30: inactive.
_DEACTIVATE = """
    UPDATE themes SET is_active = false, updated_at = %(now)s
    WHERE is_active AND coalesce(last_in_top_at, created_at) < %(idle_before)s
    RETURNING id
"""


def idle_cutoff(now: datetime) -> datetime:
    """Start (KST midnight) of the previous trading day: a theme last in the top 30 before it was
    absent for that whole trading day."""
    return datetime.combine(previous_trading_day(kst_day(now)), time(0), tzinfo=KST)


def watch(
    conn: Any,
    ranking: Sequence[Ranked],
    now: datetime,
    *,
    debounce_seconds: int,
    retry_seconds: int,
) -> WatchResult:
    """Record one poll of the ranking in ``conn``'s transaction and return the classifications due.
    The caller queues them before committing (a failed send rolls the marks back)."""
    day = kst_day(now)
    top = [row.symbol for row in ranking]
    result = WatchResult(at=now, top=top)
    with conn.cursor() as cur:
        for row in ranking:
            cur.execute(
                _UPSERT_SIGHTING,
                {
                    "day": day,
                    "symbol": row.symbol,
                    "name": row.name,
                    "now": now,
                    "price": row.price,
                    "change_percent": Decimal(str(round(row.change_percent, 2))),
                    "volume": row.volume,
                    "traded_value": row.traded_value,
                },
            )
            inserted = cur.fetchone()
            result.new_today += bool(inserted and inserted["inserted"])
    ended = conn.execute(_END_STREAKS, {"day": day, "top": top}).fetchall()
    result.debounced_away = sum(1 for r in ended if r["debounced_away"])
    due = conn.execute(
        _DUE,
        {
            "day": day,
            "ready_before": now - timedelta(seconds=debounce_seconds),
            "retry_before": now - timedelta(seconds=retry_seconds),
            "max_attempts": MAX_ATTEMPTS,
        },
    ).fetchall()
    result.requests = [ClassifyRequest(r["symbol"], day, r["attempts"]) for r in due]
    if result.requests:
        conn.execute(
            "UPDATE theme_sightings SET queued_at = %s, attempts = attempts + 1 WHERE day = %s AND symbol = ANY(%s)",
            (now, day, [r.symbol for r in result.requests]),
        )
    marked = conn.execute(_MARK_LEFT, {"now": now, "top": top}).fetchall()
    marked += conn.execute(_MARK_BACK, {"now": now, "top": top}).fetchall()
    result.marked_themes = sorted({r["theme_id"] for r in marked})
    conn.execute(_TOUCH_THEMES, {"now": now, "top": top})
    result.deactivated = [r["id"] for r in conn.execute(_DEACTIVATE, {"now": now, "idle_before": idle_cutoff(now)})]
    metrics.add(
        conn,
        day,
        {
            metrics.RANKING_POLLS: 1,
            metrics.ENTRANTS_SEEN: result.new_today,
            metrics.DEBOUNCED_AWAY: result.debounced_away,
            metrics.QUEUED: len(result.requests),
        },
    )
    return result


def replace_top_set(top: Sequence[str]) -> tuple[list[str], list[str]]:
    """Store the new ``theme:current_top_30`` and return (entered, left) against the previous set.
    Redis trouble is logged, never fatal: Postgres holds the state that decides anything."""
    try:
        redis = cache.client()
        members: Any = redis.smembers(keys.THEME_TOP_30)  # decoded strings (kstock.cache)
        previous = {str(m) for m in members}
        pipe = redis.pipeline(transaction=True)
        pipe.delete(keys.THEME_TOP_30)
        if top:
            pipe.sadd(keys.THEME_TOP_30, *top)
        pipe.execute()
    except RedisError as exc:
        log.warning("theme:current_top_30 not updated", extra={"error": type(exc).__name__})
        return [], []
    return [s for s in top if s not in previous], sorted(previous - set(top))
