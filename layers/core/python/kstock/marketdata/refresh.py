"""Refresh of market caps, listed shares and quotes from KIS (MarketDataFunction).

One run asks KIS's market-cap ranking of KOSPI and KOSDAQ (the largest companies' caps and prices
in two calls), then the current price of the ``batch_size`` stalest companies (``hts_avls`` market
cap in 100 million won, ``lstn_stcn`` listed shares, PER/PBR). Companies KIS does not know are
skipped and stay stale; nothing is invented. Every cache built on these figures (company info,
rankings) is dropped afterwards, so the API never serves figures older than the refresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from kstock import db
from kstock.kis.errors import KisAuthError, KisError, KisNotFound, KisRateLimited, KisUnavailable
from kstock.kis.rest import KisRestClient
from kstock.logs import get_logger

log = get_logger("kstock.marketdata")

KRW_PER_100M = 100_000_000
# Errors about KIS as a whole (down, refusing our key, over budget after retries): asking about the
# next company would fail the same way, so a run stops there and the next run tries again.
SYSTEMIC = (KisUnavailable, KisAuthError, KisRateLimited)
RANK_MARKETS = {"0001": "KOSPI", "1001": "KOSDAQ"}


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

    def summary(self) -> dict[str, int]:
        return {
            "ranked": self.ranked,
            "quoted": self.quoted,
            "unknown": len(self.unknown),
            "failed": self.failed,
            "updated": len(self.updated_ids),
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
    ids: list[int] = []
    with conn.transaction(), conn.cursor() as cur:
        for symbol, u in updates.items():
            cur.execute(
                """
                UPDATE companies SET market_cap = COALESCE(%s, market_cap),
                       listed_shares = COALESCE(%s, listed_shares), is_halted = COALESCE(%s, is_halted),
                       market_data_at = %s, updated_at = now()
                WHERE symbol = %s RETURNING id
                """,
                (u.market_cap, u.listed_shares, u.halted, moment, symbol),
            )
            row = cur.fetchone()
            if row is None:
                continue
            company_id = row[0] if isinstance(row, tuple) else row["id"]
            ids.append(company_id)
            cur.execute(
                """
                INSERT INTO company_quotes (company_id, price, change, change_percent, volume, per, pbr, quoted_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (company_id) DO UPDATE SET
                    price = EXCLUDED.price, change = EXCLUDED.change, change_percent = EXCLUDED.change_percent,
                    volume = EXCLUDED.volume, per = COALESCE(EXCLUDED.per, company_quotes.per),
                    pbr = COALESCE(EXCLUDED.pbr, company_quotes.pbr), quoted_at = EXCLUDED.quoted_at
                """,
                (company_id, u.price, u.change, u.change_percent, u.volume, u.per, u.pbr, moment),
            )
    return ids


def refresh(
    client: KisRestClient, *, batch_size: int, deadline: Callable[[], bool] | None = None, now: datetime | None = None
) -> RefreshResult:
    """Refresh from KIS and drop the caches built on the old figures. ``deadline()`` true stops
    asking KIS (what was fetched is still written)."""
    from kstock.companies.detail import forget_companies

    result = RefreshResult()
    moment = now or datetime.now(UTC)
    with db.transaction() as conn:
        known = {r["symbol"] for r in conn.execute("SELECT symbol FROM companies").fetchall()}
        stale = _stalest(conn, batch_size) if batch_size > 0 else []
    try:
        updates = _from_rankings(client, known, result)
    except SYSTEMIC as exc:
        log.warning("KIS unavailable; market data not refreshed", extra={"error": str(exc)})
        result.failed += 1
        return result
    for symbol in stale:
        if deadline is not None and deadline():
            log.info("market data refresh stopped at its deadline", extra={"done": result.quoted})
            break
        try:
            q = client.inquire_price(symbol)
        except KisNotFound:
            result.unknown.append(symbol)
            continue
        except SYSTEMIC as exc:  # retried already: the next run tries again, not every company now
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
    if updates:
        with db.transaction() as conn:
            result.updated_ids = _write(conn, updates, moment)
        forget_companies(result.updated_ids)  # and the rankings built on them
    return result


def deadline_of(context: object, margin_seconds: float = 5.0) -> Callable[[], bool]:
    """A deadline from a Lambda context (or none without one)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: False
    end = time.monotonic() + remaining() / 1000 - margin_seconds
    return lambda: time.monotonic() >= end
