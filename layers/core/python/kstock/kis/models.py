"""Typed results of the KIS boundary: realtime ticks and REST quotations.

KIS sends every number as a string and every time as KST wall clock; nothing leaves
``kstock.kis`` in that form. Prices of stocks and ELWs are ``int`` (KRW), index values and
ratios are ``Decimal``, days are ``date`` and moments are aware UTC ``datetime``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from kstock.market.kistime import iso_utc

# Sign codes of KIS (`*_SIGN`): 1 upper limit, 2 rise, 3 flat, 4 lower limit, 5 fall.
FALLING_SIGNS = frozenset(("4", "5"))


@dataclass(slots=True)
class Tick:
    """One realtime trade (stock, ELW) or index update, normalized.

    Slotted and built positionally: the parser creates hundreds of thousands per second.
    """

    tr_id: str
    symbol: str
    price: int | Decimal
    change: int | Decimal  # signed, vs the previous close
    change_sign: str  # KIS sign code 1..5
    change_percent: float  # signed
    volume: int  # this trade (or, for an index, this update)
    acc_volume: int  # cumulative for the day
    open: int | Decimal
    high: int | Decimal
    low: int | Decimal
    timestamp: datetime  # aware UTC

    def to_message(self, source: str = "ws") -> dict[str, object]:
        """The tick of the kstock contract (docs/architecture.md, "The tick")."""
        price, change = self.price, self.change
        return {
            "type": "tick",
            "symbol": self.symbol,
            "price": price if isinstance(price, int) else float(price),
            "volume": self.volume,
            "accVolume": self.acc_volume,
            "change": change if isinstance(change, int) else float(change),
            "changePercent": self.change_percent,
            "timestamp": iso_utc(self.timestamp),
            "source": source,
        }

    def to_json(self, source: str = "ws") -> str:
        """``to_message`` as compact JSON. Hot path (every tick): formatted directly, which is
        byte-for-byte what json.dumps gives for these values; anything unusual takes json.dumps."""
        price, change, percent = self.price, self.change, self.change_percent
        if not (
            self.symbol.isalnum()
            and source.isalnum()
            and type(price) is int
            and type(change) is int
            and type(percent) is float
            and math.isfinite(percent)
        ):
            return json.dumps(self.to_message(source), separators=(",", ":"))
        return (
            f'{{"type":"tick","symbol":"{self.symbol}","price":{price},"volume":{self.volume},'
            f'"accVolume":{self.acc_volume},"change":{change},"changePercent":{percent!r},'
            f'"timestamp":"{iso_utc(self.timestamp)}","source":"{source}"}}'
        )


@dataclass(frozen=True, slots=True)
class OrderBook:
    """One realtime order book (호가, H0STASP0), normalized.

    Levels are ``(price, quantity)`` pairs, best first: asks ascending from the lowest, bids
    descending from the highest. KIS sends ten levels a side, a level with price 0 where the day's
    price limit leaves none; those are left out, so a side can hold fewer than ten.
    """

    symbol: str
    asks: tuple[tuple[int, int], ...]
    bids: tuple[tuple[int, int], ...]
    total_ask_qty: int  # TOTAL_ASKP_RSQN: the quantity on the ten ask levels
    total_bid_qty: int
    acc_volume: int  # the day's cumulative volume when the book was sent
    hour_class: str  # HOUR_CLS_CODE: 0 regular session, A/B/C/D expected-price phases
    timestamp: datetime  # aware UTC

    def to_message(self) -> dict[str, object]:
        """The order-book message of the kstock contract (docs/architecture.md)."""
        return {
            "type": "orderbook",
            "symbol": self.symbol,
            "asks": [[price, qty] for price, qty in self.asks],
            "bids": [[price, qty] for price, qty in self.bids],
            "totalAskQty": self.total_ask_qty,
            "totalBidQty": self.total_bid_qty,
            "timestamp": iso_utc(self.timestamp),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_message(), separators=(",", ":"))


# -- REST ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockQuote:
    """FHKST01010100 inquire-price."""

    symbol: str
    price: int
    change: int
    change_sign: str
    change_percent: Decimal
    open: int
    high: int
    low: int
    prev_close: int
    upper_limit: int
    lower_limit: int
    volume: int
    traded_value: int
    vwap: Decimal | None
    tick_size: int | None
    market_cap_100m: int | None  # hts_avls, in 억원 (100 million KRW)
    listed_shares: int | None
    per: Decimal | None
    pbr: Decimal | None
    eps: Decimal | None
    bps: Decimal | None
    w52_high: int | None
    w52_low: int | None
    industry: str | None
    halted: bool


@dataclass(frozen=True, slots=True)
class DailyBar:
    """One day (or week/month/year) of a stock: FHKST01010400 and FHKST03010100 rows."""

    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    traded_value: int | None = None
    change: int | None = None
    change_sign: str | None = None
    change_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChartSummary:
    """``output1`` of FHKST03010100: the instrument's state when the chart was asked."""

    symbol: str
    name: str
    price: int
    prev_close: int
    change: int
    change_percent: Decimal
    volume: int
    listed_shares: int | None
    market_cap_100m: int | None


@dataclass(frozen=True, slots=True)
class PeriodChart:
    summary: ChartSummary | None
    bars: list[DailyBar]  # oldest first, unique days


@dataclass(frozen=True, slots=True)
class RankEntry:
    """A row of the fluctuation, volume or market-cap ranking (fields a ranking lacks are None)."""

    rank: int
    symbol: str
    name: str
    price: int
    change: int
    change_sign: str
    change_percent: Decimal
    volume: int
    traded_value: int | None = None
    prev_volume: int | None = None
    market_cap_100m: int | None = None
    market_share_percent: Decimal | None = None
    high: int | None = None
    low: int | None = None


@dataclass(frozen=True, slots=True)
class IndexQuote:
    """FHPUP02100000 inquire-index-price."""

    code: str
    value: Decimal
    change: Decimal
    change_sign: str
    change_percent: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    volume: int
    traded_value: int
    advancing: int
    upper_limit: int
    unchanged: int
    declining: int
    lower_limit: int


@dataclass(frozen=True, slots=True)
class IndexBar:
    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    traded_value: int | None = None


@dataclass(frozen=True, slots=True)
class ElwQuote:
    """FHKEW15010000 inquire-elw-price."""

    symbol: str
    name: str
    price: int
    change: int
    change_sign: str
    change_percent: Decimal
    volume: int
    open: int
    high: int
    low: int
    prev_close: int
    underlying_symbol: str
    underlying_name: str
    underlying_price: int
    strike: Decimal | None
    theoretical_price: Decimal | None
    implied_volatility: Decimal | None


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    token_type: str
    expires_at: datetime  # aware UTC
