"""The vectorised tick ladder equals the scalar one element for element (the simulator's history uses it)."""

from __future__ import annotations

import random

import numpy as np

from kstock_local.kis_sim.ticksize import (
    _LADDER,
    price_limits,
    price_limits_array,
    round_to_tick,
    round_to_tick_array,
    tick_size,
    tick_size_array,
)


def _edge_prices() -> list[float]:
    """Every band edge and its neighbours, halves of a tick around it, and the limit edges of closes near it."""
    prices: list[float] = [0.2, 0.5, 1.0, 1.5, 2.5, 3.0, 7.5]
    for bound, tick in _LADDER:
        for offset in (-tick, -1.0, -0.5, -0.01, -1e-9, 0.0, 1e-9, 0.01, 0.5, 1.0, tick / 2, tick, 2.5 * tick):
            prices.append(bound + offset)
        # prices whose +-30% lands on the edge: the limits change band there
        prices.extend([bound / 1.3, bound / 1.3 + 1, bound / 0.7, bound / 0.7 - 1])
    return prices


def _random_prices(count: int) -> list[float]:
    rng = random.Random(20260310)
    uniform = [rng.uniform(1, 3_000_000) for _ in range(count)]
    log_spread = [10 ** rng.uniform(0, 6.5) for _ in range(count)]
    # exact halves of a tick, where the rounding mode shows (Python rounds half to even)
    halves = [(rng.randrange(1, 400) + 0.5) * tick for _, tick in _LADDER for _ in range(count // 20)]
    return uniform + log_spread + halves


def test_tick_size_array_equals_scalar() -> None:
    prices = _edge_prices() + _random_prices(5_000)
    assert tick_size_array(prices).tolist() == [tick_size(p) for p in prices]


def test_round_to_tick_array_equals_scalar_on_edges_and_random_prices() -> None:
    prices = _edge_prices() + _random_prices(5_000)
    for elw in (False, True):
        got = round_to_tick_array(prices, elw=elw)
        assert got.dtype == np.int64
        assert got.tolist() == [round_to_tick(p, elw) for p in prices], elw


def test_round_to_tick_array_keeps_the_shape_and_rounds_halves_to_even() -> None:
    grid = np.array([[1_000.5, 1_001.5], [2_002.5, 2_007.5]])
    assert round_to_tick_array(grid).tolist() == [[1_000, 1_002], [2_000, 2_010]]


def test_price_limits_array_equals_scalar() -> None:
    closes = sorted({max(1, int(p)) for p in _edge_prices() + _random_prices(3_000)})
    closes += [round_to_tick(p) for p in _random_prices(2_000)]
    for elw in (False, True):
        lower, upper = price_limits_array(closes, elw=elw)
        assert list(zip(lower.tolist(), upper.tolist(), strict=True)) == [price_limits(c, elw) for c in closes], elw
