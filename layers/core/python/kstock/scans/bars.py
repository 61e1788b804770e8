"""Daily bars of many symbols as a scan panel, read from ``ohlcv_1d``.

Each symbol's row holds its own last ``LOOKBACK`` bars, right-aligned (the last column is each symbol's
newest bar, NaN before its first). A row therefore depends on that symbol's bars only: the weighted
returns computed for the whole universe when a scan is created equal, bit for bit, the ones a chunk
worker computes for the same symbols later, so every chunk ranks RS against the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kstock.scans.panel import Bars

# Enough for everything a scan reads: the 52-week range (252), RS (253 closes), SMA200 rising over 20 days.
LOOKBACK = 260


def load_bars(conn: Any, symbols: Sequence[str], lookback: int = LOOKBACK) -> Bars:
    """``symbols`` x ``lookback`` panel (rows in the order of ``symbols``; all NaN for a symbol without bars)."""
    shape = (len(symbols), lookback)
    high, low, close, volume = (np.full(shape, np.nan) for _ in range(4))
    if symbols:
        rows = conn.execute(
            "SELECT symbol, high, low, close, volume, rn FROM ("
            "  SELECT symbol, high, low, close, volume,"
            "         row_number() OVER (PARTITION BY symbol ORDER BY bucket DESC) AS rn"
            "  FROM ohlcv_1d WHERE symbol = ANY(%s)) newest "
            "WHERE rn <= %s",
            (list(symbols), lookback),
        ).fetchall()
        index = {symbol: i for i, symbol in enumerate(symbols)}
        for row in rows:
            i, column = index[row["symbol"]], lookback - int(row["rn"])
            high[i, column], low[i, column] = float(row["high"]), float(row["low"])
            close[i, column], volume[i, column] = float(row["close"]), float(row["volume"])
    return Bars(high=high, low=low, close=close, volume=volume)
