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

from kstock_local.kis_sim.ticksize import ELW_TICK, step_down, step_up, tick_size

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
    prices = [p if quote.lower <= p <= quote.upper else 0 for p in _ladder(best, quote.elw, up=up)] if best else []
    if 0 in prices:  # past a limit, every deeper level is empty too
        prices[prices.index(0) :] = [0] * (LEVELS - prices.index(0))
    scale = quote.lot * LOTS_PER_LEVEL / 34_500  # the hot path of every trade record: arithmetic inline
    levels = [
        (p, max(1, int(scale * (3_450 + (((p * 2_654_435_761) ^ (epoch * 40_503) ^ seed) & 0xFFFF)) * (1 + d / 10))))
        if p
        else EMPTY
        for d, p in enumerate(prices)
    ]
    return tuple(levels + [EMPTY] * (LEVELS - len(levels)))


def _ladder(best: int, elw: bool, *, up: bool) -> list[int]:
    """LEVELS prices from ``best`` outwards, one tick apart in each price's band. Most books sit
    inside one band, an arithmetic range; one that crosses a band boundary is stepped price by price."""
    tick = ELW_TICK if elw else tick_size(best if up else best - 1)
    far = best + (LEVELS - 1) * tick if up else best - (LEVELS - 1) * tick
    if elw or tick_size(far if up else far + tick - 1) == tick:
        return list(range(best, far + (tick if up else -tick), tick if up else -tick))
    prices = [best]
    while len(prices) < LEVELS:
        prices.append(step_up(prices[-1]) if up else max(0, step_down(prices[-1])))
    return prices


def _symbol_seed(symbol: str) -> int:
    value = 0
    for char in symbol:
        value = (value * 131 + ord(char)) & 0xFFFFFF
    return value
