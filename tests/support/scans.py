"""Helpers of the scan tests (issue 15): a year of synthetic daily bars for some companies, removed after."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np

from kstock import db
from kstock_local.embedded import free_port

DAYS = 270
FIRST_DAY = datetime(2025, 1, 1, 15, 0, tzinfo=UTC)  # 00:00 KST


def walk(seed: int, days: int = DAYS, drift: float = 0.0) -> tuple[np.ndarray, ...]:
    """High, low, close, volume of a random walk on whole won (some up-trending, by ``drift``)."""
    rng = np.random.default_rng(seed)
    close = np.round(20_000 * np.exp(np.cumsum(rng.normal(drift, 0.02, days))), -1)
    high = close + np.round(rng.uniform(0, 300, days), -1)
    low = np.maximum(close - np.round(rng.uniform(0, 300, days), -1), 10)
    volume = rng.integers(10_000, 2_000_000, days).astype(float)
    return high, low, close, volume


def symbols_of(market: str) -> list[str]:
    with db.read() as conn:
        rows = conn.execute(
            "SELECT symbol FROM companies WHERE market = %s AND kind = 'STOCK' ORDER BY symbol", (market,)
        ).fetchall()
    return [r["symbol"] for r in rows]


@contextmanager
def daily_bars(symbols: Sequence[str], days: int = DAYS) -> Iterator[dict[str, tuple[np.ndarray, ...]]]:
    """Store ``days`` bars for each symbol (replacing theirs); delete them afterwards."""
    stored: dict[str, tuple[np.ndarray, ...]] = {}
    dates = [FIRST_DAY + timedelta(days=i) for i in range(days)]
    rows = []
    for n, symbol in enumerate(symbols):
        bars = walk(n, days, drift=0.003 if n % 3 == 0 else 0.0)
        stored[symbol] = bars
        high, low, close, volume = bars
        rows += [
            (symbol, d, c, h, lo, c, v, c * v) for d, h, lo, c, v in zip(dates, high, low, close, volume, strict=True)
        ]
    with db.transaction() as conn:
        conn.execute("DELETE FROM ohlcv_1d WHERE symbol = ANY(%s)", (list(symbols),))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ohlcv_1d (symbol, bucket, open, high, low, close, volume, amount, "
                "trade_count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL)",
                rows,
            )
    try:
        yield stored
    finally:
        with db.transaction() as conn:
            conn.execute("DELETE FROM ohlcv_1d WHERE symbol = ANY(%s)", (list(symbols),))


@contextmanager
def an_elw(symbol: str = "57LA24") -> Iterator[str]:
    """A KOSDAQ-listed ELW with the largest market cap (a scan that excludes ELW must still leave it out)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO companies (symbol, name, market, kind, market_cap) "
            "VALUES (%s, '테스트 ELW', 'KOSDAQ', 'ELW', 9000000000000000)",
            (symbol,),
        )
    try:
        yield symbol
    finally:
        with db.transaction() as conn:
            conn.execute("DELETE FROM companies WHERE symbol = %s", (symbol,))


def forget_scans() -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM scan_runs")


def no_kis() -> dict[str, str]:
    """Settings pointing KIS at a closed port, so a scan never reaches a simulator someone else runs."""
    return {
        "KIS_REST_URL": f"http://127.0.0.1:{free_port()}",
        "KIS_REST_MAX_ATTEMPTS": "1",
        "KIS_TOKEN_MIN_INTERVAL": "0",
    }
