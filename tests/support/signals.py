"""What the live-signal tests share: a deterministic tick feed and the signals the batch indicators give on it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from kstock.indicators import ema, rsi
from kstock_streamer.signals import OVERSOLD, RSI_BAND

START = 1_767_225_600  # 2026-01-01T00:00:00Z


def ticks(seed: int, minutes: int = 400, per_minute: int = 6) -> list[dict[str, object]]:
    """A random walk of trades at random seconds, whole won, some flat stretches."""
    rng = np.random.default_rng(seed)
    out, price = [], 50_000.0
    for minute in range(minutes):
        for second in sorted(rng.choice(60, per_minute, replace=False)):
            if not 100 <= minute < 130:  # a flat half hour: RSI's no-move case
                price = max(100.0, round(price * (1 + rng.normal(0, 0.004)), -1))
            epoch = START + minute * 60 + int(second)
            out.append(
                {
                    "type": "tick",
                    "symbol": "005930",
                    "price": price,
                    "volume": int(rng.integers(1, 50)),
                    "timestamp": datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z"),
                }
            )
    return out


def epoch(tick: dict[str, object]) -> float:
    return datetime.fromisoformat(str(tick["timestamp"]).replace("Z", "+00:00")).timestamp()


def oracle(feed: list[dict[str, object]]) -> list[tuple[str, float, str]]:
    """The signals the rules give on the batch indicators of the closed candles' closes."""
    out = []
    for name, interval in (("1m", 60), ("5m", 300)):
        groups: dict[int, float] = {}
        for tick in feed:
            groups[int(epoch(tick)) // interval * interval] = float(tick["price"])
        starts = sorted(groups)[:-1]
        closes = np.array([groups[s] for s in starts])
        e, r = ema(closes, 20), rsi(closes, 14)
        for i in range(1, len(closes)):
            when = datetime.fromtimestamp(starts[i] + interval, UTC).isoformat(timespec="seconds")
            when = when.replace("+00:00", "Z")
            if name == "1m" and closes[i - 1] <= e[i - 1] and closes[i] > e[i] and RSI_BAND[0] <= r[i] <= RSI_BAND[1]:
                out.append(("ema_cross_1m", closes[i], when))
            if name == "5m" and r[i - 1] < OVERSOLD <= r[i]:
                out.append(("rsi_rebound_5m", closes[i], when))
    return sorted(out, key=lambda s: (s[2], s[0]))
