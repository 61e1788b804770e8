"""The KRX price ladder (호가가격단위, unified for KOSPI and KOSDAQ since 2023-01-25) and daily limits."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

_LADDER = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))
ELW_TICK = 5
# The ladder as arrays for the vectorised forms: a price's band is the number of bounds at or below it.
_BOUNDS = np.array([bound for bound, _ in _LADDER], dtype=np.float64)
_TICKS = np.array([tick for _, tick in _LADDER] + [1_000], dtype=np.int64)


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


# -- vectorised forms (the simulator's history builds ~800 bars per company at once) -------------------


def tick_size_array(prices: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """``tick_size`` of every price."""
    return _TICKS[np.searchsorted(_BOUNDS, np.asarray(prices, dtype=np.float64), side="right")]


def round_to_tick_array(prices: npt.ArrayLike, elw: bool = False) -> npt.NDArray[np.int64]:
    """``round_to_tick`` of every price: the band is chosen from the unrounded price and halves round to
    even, as Python's ``round`` does, so that every element equals the scalar function's answer."""
    values = np.asarray(prices, dtype=np.float64)
    ticks = np.full(values.shape, ELW_TICK, dtype=np.int64) if elw else tick_size_array(values)
    rounded: npt.NDArray[np.int64] = np.maximum(ticks, np.rint(values / ticks).astype(np.int64) * ticks)
    return rounded


def price_limits_array(
    prev_closes: npt.ArrayLike, elw: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``price_limits`` of every previous close: (lower, upper) arrays."""
    prev = np.asarray(prev_closes, dtype=np.int64)
    up, down = prev * 1.3, prev * 0.7
    up_tick = np.full(prev.shape, ELW_TICK, dtype=np.int64) if elw else tick_size_array(up)
    down_tick = np.full(prev.shape, ELW_TICK, dtype=np.int64) if elw else tick_size_array(down)
    upper = np.floor(up / up_tick).astype(np.int64) * up_tick
    lower = np.maximum(down_tick, np.ceil(down / down_tick).astype(np.int64) * down_tick)
    return lower, upper
