"""The KRX price ladder (호가가격단위, unified for KOSPI and KOSDAQ since 2023-01-25) and daily limits."""

from __future__ import annotations

import math

_LADDER = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))
ELW_TICK = 5


def tick_size(price: float) -> int:
    for bound, tick in _LADDER:
        if price < bound:
            return tick
    return 1_000


def round_to_tick(price: float, elw: bool = False) -> int:
    tick = ELW_TICK if elw else tick_size(price)
    return max(tick, int(round(price / tick)) * tick)


def price_limits(prev_close: int, elw: bool = False) -> tuple[int, int]:
    """(lower, upper): +-30% of the previous close, rounded inwards to the ladder."""
    up, down = prev_close * 1.3, prev_close * 0.7
    up_tick = ELW_TICK if elw else tick_size(up)
    down_tick = ELW_TICK if elw else tick_size(down)
    upper = int(math.floor(up / up_tick)) * up_tick
    lower = max(down_tick, int(math.ceil(down / down_tick)) * down_tick)
    return lower, upper


def step_up(price: int, elw: bool = False) -> int:
    """The next price above ``price`` on the ladder (the tick of the band ``price`` is in)."""
    return price + (ELW_TICK if elw else tick_size(price))


def step_down(price: int, elw: bool = False) -> int:
    """The next price below ``price`` on the ladder: the tick of the band just below it, so that
    2,000 steps down to 1,999 and 2,005 to 2,000."""
    return price - (ELW_TICK if elw else tick_size(price - 1))


def on_ladder(price: int, elw: bool = False) -> bool:
    """Whether ``price`` is a price KRX accepts (a multiple of its band's tick)."""
    return price > 0 and price % (ELW_TICK if elw else tick_size(price)) == 0
