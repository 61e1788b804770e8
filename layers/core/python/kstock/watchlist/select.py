"""Safety filter, buy candidates and the traded-value ranking of the watchlist (rules in the package doc)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from kstock import cache, db, keys
from kstock.config import get_settings
from kstock.indicators import signal
from kstock.scans.bars import load_bars

log = logging.getLogger("kstock.watchlist")
BUY_LABELS = ("buy", "strong buy")
# The daily signal needs MACD's and the stochastic's warm-up; a few months of bars are plenty.
SIGNAL_LOOKBACK = 120


@dataclass
class Candidate:
    symbol: str
    reasons: list[str] = field(default_factory=list)
    traded_value: int = 0


def safe_symbols(conn: Any) -> list[str]:
    """The symbols that pass the safety filter, by the settings' minimum traded value and kinds."""
    settings = get_settings()
    kinds = ["STOCK"] if settings.watchlist_stocks_only else ["STOCK", "ETF", "ETN", "ELW"]
    rows: list[dict[str, Any]] = conn.execute(
        "SELECT c.symbol FROM companies c "
        "JOIN LATERAL (SELECT coalesce(amount, close * volume) AS value FROM ohlcv_1d "
        "              WHERE symbol = c.symbol ORDER BY bucket DESC LIMIT 1) last ON true "
        "WHERE NOT c.is_halted AND NOT c.is_warning AND c.kind = ANY(%s) AND last.value >= %s "
        "ORDER BY c.symbol",
        (kinds, settings.watchlist_min_traded_value),
    ).fetchall()
    return [str(r["symbol"]) for r in rows]


def store_safe(symbols: Sequence[str]) -> None:
    """Replace the stored safe set (one MULTI: readers never see it half written)."""
    with cache.client().pipeline(transaction=True) as pipe:
        pipe.delete(keys.WATCHLIST_SAFE)
        if symbols:
            pipe.sadd(keys.WATCHLIST_SAFE, *symbols)
        pipe.execute()


def _stored_safe(conn: Any) -> list[str]:
    members = cast(set[Any], cache.client().smembers(keys.WATCHLIST_SAFE))
    if members:
        return sorted(str(m) for m in members)
    found = safe_symbols(conn)  # before the first hourly run: filter now
    store_safe(found)
    return found


def candidates(conn: Any, safe: Sequence[str]) -> dict[str, Candidate]:
    """The safe symbols with a buy reason, each with its reasons."""
    out: dict[str, Candidate] = {}
    allowed = set(safe)
    latest = conn.execute(
        "SELECT c.symbol, s.grade, s.score FROM scan_signals s JOIN companies c ON c.id = s.company_id "
        "WHERE s.valid AND s.run_id = (SELECT id FROM scan_runs WHERE status = 'done' "
        "                              ORDER BY finished_at DESC, id DESC LIMIT 1)"
    ).fetchall()
    for row in latest:
        if row["symbol"] in allowed:
            out.setdefault(row["symbol"], Candidate(row["symbol"])).reasons.append(
                f"scan grade {row['grade']} (score {float(row['score']):.1f})"
            )
    symbols = list(safe)
    bars = load_bars(conn, symbols, SIGNAL_LOOKBACK)
    combined = signal(bars.high, bars.low, bars.close, bars.volume)
    for i, symbol in enumerate(symbols):
        label, score = str(combined.labels[i, -1]), float(combined.score[i, -1])
        if label in BUY_LABELS and not np.isnan(score):
            out.setdefault(symbol, Candidate(symbol)).reasons.append(f"daily signal {label} (score {score:.1f})")
    return out


def _stored_values(conn: Any, symbols: Sequence[str]) -> dict[str, int]:
    rows: list[dict[str, Any]] = conn.execute(
        "SELECT DISTINCT ON (symbol) symbol, coalesce(amount, close * volume) AS value FROM ohlcv_1d "
        "WHERE symbol = ANY(%s) ORDER BY symbol, bucket DESC",
        (list(symbols),),
    ).fetchall()
    return {str(r["symbol"]): int(r["value"] or 0) for r in rows}


def refresh(ranking: Callable[[], dict[str, int]]) -> list[Candidate]:
    """Rank the candidates and write the top N to ``streamer:watchlist`` with their reasons.

    ``ranking`` answers today's traded value per symbol (the KIS volume ranking by value); candidates
    it does not list count their last stored daily bar's value.
    """
    with db.read() as conn:
        found = candidates(conn, _stored_safe(conn))
        stored = _stored_values(conn, list(found))
    today = ranking() if found else {}
    for candidate in found.values():
        if candidate.symbol in today:
            candidate.traded_value = today[candidate.symbol]
            candidate.reasons.append("KIS traded-value ranking")
        else:
            candidate.traded_value = stored.get(candidate.symbol, 0)
    top = sorted(found.values(), key=lambda c: (-c.traded_value, c.symbol))[: get_settings().watchlist_size]
    reasons = {
        c.symbol: json.dumps({"rank": n, "tradedValue": c.traded_value, "reasons": c.reasons}, ensure_ascii=False)
        for n, c in enumerate(top, 1)
    }
    with cache.client().pipeline(transaction=True) as pipe:
        pipe.delete(keys.WATCHLIST, keys.WATCHLIST_REASONS)
        if top:
            pipe.sadd(keys.WATCHLIST, *reasons)
            pipe.hset(keys.WATCHLIST_REASONS, mapping=reasons)
        pipe.execute()
    log.info("watchlist", extra={"symbols": list(reasons), "candidates": len(found)})
    return top


def kis_traded_values() -> dict[str, int]:
    """Today's traded value of the KIS volume ranking by value (FHPST01710000, sort 3), per symbol."""
    from kstock.kis.rest import shared_client

    entries = shared_client().volume_rank(sort="3")
    return {e.symbol: int(e.traded_value or 0) for e in entries}
