"""The simulated order book (호가): ten levels each side on the KRX ladder, consistent with the trades.

A buyer-initiated trade (side ``1``) lifted the best ask, so right after it the trade price is
still the best ask and the best bid is one tick below; a seller-initiated trade (``5``) hit the
best bid, so the trade price is the best bid and the best ask one tick above. Deeper levels step
one tick at a time in the band each price is in (:mod:`kstock_local.kis_sim.ticksize`), and stop
at the day's limits: KRX shows no ask above the upper limit and no bid below the lower one, sent
by KIS as price and quantity ``0``.

Quantities are a cheap deterministic hash of (symbol, price, how far the day has traded), so the
book at one price stays put for a few trades and then changes, like a real book being worked.
They are drawn in lots worth about 3 million won (the market's trade size), about twenty lots a
level on average: a level takes several trades to clear, as on a liquid KRX name.
"""

from __future__ import annotations

from dataclasses import dataclass

from kstock_local.kis_sim.ticksize import step_down, step_up

LEVELS = 10
LOTS_PER_LEVEL = 20  # the mean depth of a level, in trade lots
EMPTY = (0, 0)  # a level beyond the day's limit


@dataclass(frozen=True, slots=True)
class Book:
    asks: tuple[tuple[int, int], ...]  # (price, qty), best (lowest) first, LEVELS long
    bids: tuple[tuple[int, int], ...]  # (price, qty), best (highest) first, LEVELS long
    total_ask: int  # the sum of the displayed ask quantities (KIS's TOTAL_ASKP_RSQN)
    total_bid: int

    @property
    def best_ask(self) -> tuple[int, int]:
        return self.asks[0]

    @property
    def best_bid(self) -> tuple[int, int]:
        return self.bids[0]


@dataclass(frozen=True, slots=True)
class Quote:
    """What a book needs to know of its security; a :class:`~kstock_local.kis_sim.market.Security`
    fits, the trade snapshot supplies its own price, side and volume."""

    symbol: str
    price: int
    side: str  # the last trade's: 1 buyer-initiated, 5 seller-initiated
    acc_volume: int
    lower: int
    upper: int
    elw: bool
    lot: int  # shares worth about 3 million won
    shuffle: int = 0  # bumped by the publisher to move quantities between trades


def best_prices(quote: Quote) -> tuple[int, int]:
    """(best ask, best bid) right after a trade at ``quote.price``; 0 where the limit leaves none."""
    price, elw = quote.price, quote.elw
    if quote.side == "1":
        ask, bid = price, step_down(price, elw)
    else:
        ask, bid = step_up(price, elw), price
    return (ask if ask <= quote.upper else 0), (bid if bid >= quote.lower else 0)


def build_book(quote: Quote) -> Book:
    ask, bid = best_prices(quote)
    epoch = quote.acc_volume // (3 * quote.lot) + quote.shuffle
    seed = _symbol_seed(quote.symbol)
    asks = _side(ask, quote, epoch, seed, up=True)
    bids = _side(bid, quote, epoch, seed, up=False)
    return Book(asks, bids, sum(q for _, q in asks), sum(q for _, q in bids))


def _side(best: int, quote: Quote, epoch: int, seed: int, *, up: bool) -> tuple[tuple[int, int], ...]:
    levels: list[tuple[int, int]] = []
    price = best
    for depth in range(LEVELS):
        if price <= 0 or price < quote.lower or price > quote.upper:
            levels.append(EMPTY)
            price = 0
            continue
        levels.append((price, _quantity(price, depth, epoch, seed, quote.lot)))
        price = step_up(price, quote.elw) if up else step_down(price, quote.elw)
    return tuple(levels)


def _quantity(price: int, depth: int, epoch: int, seed: int, lot: int) -> int:
    """0.1 .. 2 times LOTS_PER_LEVEL lots, a little more deeper in the book (Knuth's multiplicative
    hash: fast and well spread)."""
    spread = ((price * 2_654_435_761) ^ (epoch * 40_503) ^ seed) & 0xFFFF
    return max(1, int(lot * LOTS_PER_LEVEL * (0.1 + spread / 34_500) * (1 + depth / 10)))


def _symbol_seed(symbol: str) -> int:
    value = 0
    for char in symbol:
        value = (value * 131 + ord(char)) & 0xFFFFFF
    return value
