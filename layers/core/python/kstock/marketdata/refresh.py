"""Refresh of market caps, listed shares and quotes from KIS (MarketDataFunction).

One run asks KIS's market-cap ranking of KOSPI and KOSDAQ (the largest companies' caps and prices
in two calls), then the current price of the ``batch_size`` stalest companies (``hts_avls`` market
cap in 100 million won, ``lstn_stcn`` listed shares, PER/PBR). Companies KIS does not know are
skipped and stay stale; nothing is invented. Every cache built on these figures (company info,
rankings) is dropped afterwards, so the API never serves figures older than the refresh.

A run ends before its :class:`Deadline` (the Lambda timeout minus a margin) with what it did: every
KIS call shares the time left (``kstock.kis.deadline``), so none outlives it, and the figures are
written every ``WRITE_EVERY`` companies as they come, so past the deadline at most one such write is
left. With the whole market (~2,500 companies at KIS's 20 calls/s) a full refresh takes several runs;
each run takes the stalest companies, so consecutive runs cover the market.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from kstock import db
from kstock.kis import deadline as kis_deadline
from kstock.kis.errors import (
    KisAuthError,
    KisDeadlineExceeded,
    KisError,
    KisNotFound,
    KisRateLimited,
    KisUnavailable,
)
from kstock.kis.rest import KisRestClient
from kstock.logs import get_logger

log = get_logger("kstock.marketdata")

KRW_PER_100M = 100_000_000
# Errors about KIS as a whole (down, refusing our key, over budget after retries): asking about the
# next company would fail the same way, so a run stops there and the next run tries again.
SYSTEMIC = (KisUnavailable, KisAuthError, KisRateLimited)
RANK_MARKETS = {"0001": "KOSPI", "1001": "KOSDAQ"}
# companies written per transaction while a run goes on: the most a run has left to write at its
# deadline (~0.3 s on a laptop's embedded Postgres), well inside deadline_of's margin
WRITE_EVERY = 200


class Deadline:
    """When a run stops asking KIS. ``clock`` is time.monotonic (tests may count something else)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def left(self) -> float:
        return self._end - self._clock()

    def __call__(self) -> bool:
        return self.left() <= 0

    def kis_budget(self) -> AbstractContextManager[None]:
        """The KIS calls made inside share the time left: a slow or hung KIS cannot outlast it."""
        return kis_deadline.within(max(self.left(), 0.0))


@dataclass
class CompanyUpdate:
    price: int
    change: int | None = None
    change_percent: Decimal | None = None
    volume: int | None = None
    market_cap: int | None = None  # KRW
    listed_shares: int | None = None
    per: Decimal | None = None
    pbr: Decimal | None = None
    halted: bool | None = None


@dataclass
class RefreshResult:
    ranked: int = 0
    quoted: int = 0
    unknown: list[str] = field(default_factory=list)
    failed: int = 0
    updated_ids: list[int] = field(default_factory=list)
    stopped_at_deadline: bool = False  # the batch was cut short by the deadline, not by KIS

    def summary(self) -> dict[str, int]:
        return {
            "ranked": self.ranked,
            "quoted": self.quoted,
            "unknown": len(self.unknown),
            "failed": self.failed,
            "updated": len(self.updated_ids),
            "stoppedAtDeadline": int(self.stopped_at_deadline),
        }


def _won(cap_100m: int | None) -> int | None:
    return cap_100m * KRW_PER_100M if cap_100m else None


def _from_rankings(client: KisRestClient, known: set[str], result: RefreshResult) -> dict[str, CompanyUpdate]:
    updates: dict[str, CompanyUpdate] = {}
    for code in RANK_MARKETS:
        try:
            entries = client.market_cap_rank(code)
        except SYSTEMIC:
            raise
        except KisError as exc:
            log.warning("market-cap ranking unavailable", extra={"market": code, "error": str(exc)})
            result.failed += 1
            continue
        for entry in entries:
            if entry.symbol in known and entry.price > 0:
                updates[entry.symbol] = CompanyUpdate(
                    price=entry.price,
                    change=entry.change,
                    change_percent=entry.change_percent,
                    volume=entry.volume,
                    market_cap=_won(entry.market_cap_100m),
                )
                result.ranked += 1
    return updates


def _stalest(conn: db.Connection, batch_size: int) -> list[str]:
    # Unknown listed shares first (the ranking does not give them), then the oldest refresh.
    rows = conn.execute(
        """
        SELECT symbol FROM companies WHERE kind IN ('STOCK', 'ETF', 'ETN')
        ORDER BY listed_shares IS NOT NULL, market_data_at NULLS FIRST, id LIMIT %s
        """,
        (batch_size,),
    ).fetchall()
    return [r["symbol"] for r in rows]


def _write(conn: db.Connection, updates: dict[str, CompanyUpdate], moment: datetime) -> list[int]:
    """Store a chunk of updates in two statements (one round trip each, whatever the chunk's size)."""
    if not updates:
        return []
    symbols = list(updates)
    rows = conn.execute(
        """
        UPDATE companies c SET market_cap = COALESCE(u.market_cap, c.market_cap),
               listed_shares = COALESCE(u.listed_shares, c.listed_shares),
               is_halted = COALESCE(u.halted, c.is_halted), market_data_at = %s, updated_at = now()
        FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::boolean[])
             AS u(symbol, market_cap, listed_shares, halted)
        WHERE c.symbol = u.symbol RETURNING c.id, c.symbol
        """,
        (
            moment,
            symbols,
            [updates[s].market_cap for s in symbols],
            [updates[s].listed_shares for s in symbols],
            [updates[s].halted for s in symbols],
        ),
    ).fetchall()
    ids = {r["symbol"]: int(r["id"]) for r in rows}
    stored = [s for s in symbols if s in ids]
    conn.execute(
        """
        INSERT INTO company_quotes (company_id, price, change, change_percent, volume, per, pbr, quoted_at)
        SELECT q.company_id, q.price, q.change, q.change_percent, q.volume, q.per, q.pbr, %s
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], %s::bigint[], %s::numeric[],
                    %s::numeric[]) AS q(company_id, price, change, change_percent, volume, per, pbr)
        ON CONFLICT (company_id) DO UPDATE SET
            price = EXCLUDED.price, change = EXCLUDED.change, change_percent = EXCLUDED.change_percent,
            volume = EXCLUDED.volume, per = COALESCE(EXCLUDED.per, company_quotes.per),
            pbr = COALESCE(EXCLUDED.pbr, company_quotes.pbr), quoted_at = EXCLUDED.quoted_at
        """,
        (
            moment,
            [ids[s] for s in stored],
            [updates[s].price for s in stored],
            [updates[s].change for s in stored],
            [updates[s].change_percent for s in stored],
            [updates[s].volume for s in stored],
            [updates[s].per for s in stored],
            [updates[s].pbr for s in stored],
        ),
    )
    return [ids[s] for s in stored]


def _store(updates: dict[str, CompanyUpdate], moment: datetime, result: RefreshResult) -> None:
    """Write and clear ``updates`` (a transaction of their own: what is written stays written)."""
    if updates:
        with db.transaction() as conn:
            result.updated_ids.extend(_write(conn, updates, moment))
        updates.clear()


def refresh(
    client: KisRestClient, *, batch_size: int, deadline: Deadline | None = None, now: datetime | None = None
) -> RefreshResult:
    """Refresh from KIS and drop the caches built on the old figures. At ``deadline`` the run stops
    asking KIS (a call in flight is cut to it) and returns with what it did, all of it written."""
    from kstock.companies.detail import forget_companies

    result = RefreshResult()
    moment = now or datetime.now(UTC)
    with db.transaction() as conn:
        known = {r["symbol"] for r in conn.execute("SELECT symbol FROM companies").fetchall()}
        stale = _stalest(conn, batch_size) if batch_size > 0 else []
    budget = deadline.kis_budget() if deadline is not None else nullcontext()
    try:
        with budget:
            _fetch_and_store(client, known, stale, deadline, moment, result)
    finally:
        # a company written twice (ranked, then quoted) counts once; the caches go even if a write failed
        result.updated_ids = list(dict.fromkeys(result.updated_ids))
        if result.updated_ids:
            forget_companies(result.updated_ids)  # and the rankings built on them
    return result


def _fetch_and_store(
    client: KisRestClient,
    known: set[str],
    stale: list[str],
    deadline: Deadline | None,
    moment: datetime,
    result: RefreshResult,
) -> None:
    try:
        updates = _from_rankings(client, known, result)
    except SYSTEMIC as exc:
        if _cut_by(deadline, exc):
            result.stopped_at_deadline = True
            log.warning("market data refresh reached its deadline during the rankings")
        else:
            log.warning("KIS unavailable; market data not refreshed", extra={"error": str(exc)})
            result.failed += 1
        return
    for symbol in stale:
        if deadline is not None and deadline():
            result.stopped_at_deadline = True
            break
        try:
            q = client.inquire_price(symbol)
        except KisNotFound:
            result.unknown.append(symbol)
            continue
        except SYSTEMIC as exc:  # retried already: the next run tries again, not every company now
            if _cut_by(deadline, exc):
                result.stopped_at_deadline = True
                break
            log.warning("KIS unavailable; refresh cut short", extra={"symbol": symbol, "error": str(exc)})
            result.failed += 1
            break
        except KisError as exc:
            log.warning("current price unavailable", extra={"symbol": symbol, "error": str(exc)})
            result.failed += 1
            continue
        updates[symbol] = CompanyUpdate(
            price=q.price,
            change=q.change,
            change_percent=q.change_percent,
            volume=q.volume,
            market_cap=_won(q.market_cap_100m),
            listed_shares=q.listed_shares or None,
            per=q.per,
            pbr=q.pbr,
            halted=q.halted,
        )
        result.quoted += 1
        if len(updates) >= WRITE_EVERY:
            _store(updates, moment, result)
    if result.stopped_at_deadline:
        log.info("market data refresh stopped at its deadline", extra={"done": result.quoted, "batch": len(stale)})
    _store(updates, moment, result)


def _cut_by(deadline: Deadline | None, exc: KisError) -> bool:
    """Whether a KIS failure is the deadline's doing: the budget refused the call, or an attempt
    timed out at the budget's end and no retry was left time for."""
    return isinstance(exc, KisDeadlineExceeded) or (deadline is not None and deadline())


def deadline_of(context: object, margin_seconds: float = 5.0) -> Deadline | None:
    """The deadline of a Lambda invocation: its remaining time less ``margin_seconds`` (for the last
    write and the cache drop). None without a context that knows its remaining time."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return Deadline(remaining() / 1000 - margin_seconds)
