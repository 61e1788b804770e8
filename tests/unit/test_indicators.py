"""kstock.indicators against TA-Lib, the oracle: every function, on random walks, flat runs, gaps, zero
volume, late starts and series shorter than the lookback, as one series and as a panel (each row of the
panel must equal TA-Lib on that row).

Values after the warm-up agree to 1e-9 relative; where the value itself is near zero (a MACD crossing,
a stochastic at its floor) the 1e-9 is taken of the indicator's own scale (the price level, or 100 for
an oscillator), since rounding there is relative to the numbers summed, not to their difference.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import pytest

from kstock import indicators as ind

talib = pytest.importorskip("talib")

RTOL = 1e-9
DAYS = 260


def _walk(rng: np.random.Generator, rows: int, days: int, start: float = 50_000.0) -> np.ndarray:
    return np.round(start * np.exp(np.cumsum(rng.normal(0, 0.02, (rows, days)), axis=1)))


def _bars(close: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    spread = rng.uniform(0, 0.03, close.shape)
    high = np.round(close * (1 + spread))
    low = np.round(close * (1 - rng.uniform(0, 0.03, close.shape)))
    volume = rng.integers(0, 2_000_000, close.shape).astype(float)
    return {"high": high, "low": low, "close": close, "volume": volume}


def _case_random_walk(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _bars(_walk(rng, 6, DAYS), rng)


def _case_flat_runs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    bars = _bars(_walk(rng, 6, DAYS), rng)
    for name in ("close", "high", "low"):
        bars[name][:, 80:130] = bars["close"][:, 79:80]  # 50 days without a single tick of movement
        bars[name][5, :] = 12_345.0  # a whole row flat
    return bars


def _case_gaps(rng: np.random.Generator) -> dict[str, np.ndarray]:
    close = _walk(rng, 6, DAYS)
    close[:, 100:] *= 1.3  # a gap up (upper limit day) ...
    close[:, 180:] *= 0.7  # ... and a gap down
    close = np.round(close)
    return _bars(close, rng)


def _case_zero_volume(rng: np.random.Generator) -> dict[str, np.ndarray]:
    bars = _bars(_walk(rng, 6, DAYS), rng)
    bars["volume"][:, 50:90] = 0.0  # a trading halt
    bars["volume"][4, :] = 0.0
    return bars


def _case_late_listing(rng: np.random.Generator) -> dict[str, np.ndarray]:
    bars = _bars(_walk(rng, 6, DAYS), rng)
    for row, listed in enumerate((0, 1, 30, 120, 240, 255)):
        for name in bars:
            bars[name][row, :listed] = np.nan
    return bars


def _case_short(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _bars(_walk(rng, 4, 12), rng)  # shorter than every lookback but the SMA's and OBV's


CASES: dict[str, Callable[[np.random.Generator], dict[str, np.ndarray]]] = {
    "random walk": _case_random_walk,
    "flat runs": _case_flat_runs,
    "gaps": _case_gaps,
    "zero volume": _case_zero_volume,
    "late listing": _case_late_listing,
    "shorter than the lookback": _case_short,
}

# name -> (ours on a panel, TA-Lib on one row, inputs, scale of the output: "price" or a number)
Function = Callable[..., object]
FUNCTIONS: dict[str, tuple[Function, Function, tuple[str, ...], str | float]] = {
    "sma": (lambda c: ind.sma(c, 20), lambda c: talib.SMA(c, 20), ("close",), "price"),
    "sma 200": (lambda c: ind.sma(c, 200), lambda c: talib.SMA(c, 200), ("close",), "price"),
    "ema": (lambda c: ind.ema(c, 20), lambda c: talib.EMA(c, 20), ("close",), "price"),
    "ema 5": (lambda c: ind.ema(c, 5), lambda c: talib.EMA(c, 5), ("close",), "price"),
    "rsi": (lambda c: ind.rsi(c, 14), lambda c: talib.RSI(c, 14), ("close",), 100.0),
    "rsi 2": (lambda c: ind.rsi(c, 2), lambda c: talib.RSI(c, 2), ("close",), 100.0),
    "macd": (ind.macd, lambda c: talib.MACD(c, 12, 26, 9), ("close",), "price"),
    "macd 5/35/5": (lambda c: ind.macd(c, 5, 35, 5), lambda c: talib.MACD(c, 5, 35, 5), ("close",), "price"),
    "bollinger": (ind.bollinger, lambda c: talib.BBANDS(c, 20, 2.0, 2.0, 0), ("close",), "price"),
    "bollinger 10/1.5": (
        lambda c: ind.bollinger(c, 10, 1.5),
        lambda c: talib.BBANDS(c, 10, 1.5, 1.5, 0),
        ("close",),
        "price",
    ),
    "stochastic": (
        ind.stochastic,
        lambda h, lo, c: talib.STOCH(h, lo, c, 14, 3, 0, 3, 0),
        ("high", "low", "close"),
        100.0,
    ),
    "stochastic 5/1/4": (
        lambda h, lo, c: ind.stochastic(h, lo, c, 5, 1, 4),
        lambda h, lo, c: talib.STOCH(h, lo, c, 5, 1, 0, 4, 0),
        ("high", "low", "close"),
        100.0,
    ),
    "obv": (ind.obv, talib.OBV, ("close", "volume"), "volume"),
    "atr": (ind.atr, lambda h, lo, c: talib.ATR(h, lo, c, 14), ("high", "low", "close"), "price"),
    "atr 3": (
        lambda h, lo, c: ind.atr(h, lo, c, 3),
        lambda h, lo, c: talib.ATR(h, lo, c, 3),
        ("high", "low", "close"),
        "price",
    ),
    "true range": (ind.true_range, talib.TRANGE, ("high", "low", "close"), "price"),
}


def _outputs(value: object) -> list[np.ndarray]:
    return [np.asarray(v) for v in value] if isinstance(value, tuple) else [np.asarray(value)]


def _scale(kind: str | float, bars: dict[str, np.ndarray]) -> float:
    if isinstance(kind, float):
        return kind
    if kind == "volume":
        return float(np.nansum(bars["volume"], axis=-1).max()) or 1.0
    return float(np.nanmax(np.abs(bars["close"])))


def _assert_matches(ours: np.ndarray, oracle: np.ndarray, scale: float, where: str) -> None:
    assert ours.shape == oracle.shape, where
    nan_ours, nan_oracle = np.isnan(ours), np.isnan(oracle)
    assert (nan_ours == nan_oracle).all(), f"{where}: warm-up NaNs differ at {np.argwhere(nan_ours != nan_oracle)[:5]}"
    both = ~nan_oracle
    error = np.abs(ours[both] - oracle[both])
    allowed = RTOL * np.maximum(np.abs(oracle[both]), scale)
    worst = int(np.argmax(error / allowed)) if error.size else 0
    assert (error <= allowed).all(), f"{where}: {ours[both][worst]!r} vs TA-Lib {oracle[both][worst]!r}"


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_each_row_of_a_panel_equals_talib_on_that_row(name: str, case: str) -> None:
    ours_fn, oracle_fn, inputs, kind = FUNCTIONS[name]
    bars = CASES[case](np.random.default_rng(zlib.crc32(f"{name}/{case}".encode())))
    panel = [bars[i] for i in inputs]
    ours = _outputs(ours_fn(*panel))
    scale = _scale(kind, bars)
    for row in range(panel[0].shape[0]):
        series = [np.ascontiguousarray(p[row]) for p in panel]
        oracle = _outputs(oracle_fn(*series))
        single = _outputs(ours_fn(*series))  # the 1-D call, on its own
        for k, (ours_k, oracle_k, single_k) in enumerate(zip(ours, oracle, single, strict=True)):
            where = f"{name} / {case} / row {row} / output {k}"
            _assert_matches(ours_k[row], oracle_k, scale, where)
            _assert_matches(single_k, oracle_k, scale, where + " (1-D)")


def test_a_series_shorter_than_the_lookback_is_all_nan() -> None:
    close = np.linspace(100.0, 110.0, 13)
    high, low = close + 1, close - 1
    assert np.isnan(ind.rsi(close, 14)).all()
    assert np.isnan(ind.ema(close, 20)).all()
    assert np.isnan(ind.atr(high, low, close, 14)).all()
    assert all(np.isnan(out).all() for out in ind.macd(close))
    assert all(np.isnan(out).all() for out in ind.stochastic(high, low, close))
    assert np.isnan(ind.sma(close, 14)).all() and not np.isnan(ind.sma(close, 13)[-1])


def test_a_row_without_any_price_stays_nan_beside_rows_that_have_prices() -> None:
    rng = np.random.default_rng(7)
    close = _walk(rng, 3, 60)
    close[1] = np.nan
    assert np.isnan(ind.ema(close, 10)[1]).all()
    assert np.isnan(ind.rsi(close)[1]).all()
    assert np.isnan(ind.obv(close, np.ones_like(close))[1]).all()
    assert not np.isnan(ind.ema(close, 10)[0, 9:]).any()


def test_flat_series_read_as_talib_reads_them() -> None:
    close = np.full(40, 70_000.0)
    assert (ind.rsi(close)[14:] == 0.0).all()  # no gain and no loss: 0, as TA-Lib says, not 50
    upper, middle, lower = ind.bollinger(close)
    assert (upper[19:] == 70_000.0).all() and (lower[19:] == 70_000.0).all()
    assert (ind.stochastic(close, close, close)[0][17:] == 0.0).all()


def test_obv_starts_at_the_first_volume_and_an_equal_close_adds_nothing() -> None:
    close = np.array([10.0, 11.0, 11.0, 9.0, 12.0])
    volume = np.array([100.0, 20.0, 500.0, 7.0, 3.0])
    assert ind.obv(close, volume).tolist() == [100.0, 120.0, 120.0, 113.0, 116.0]


def test_three_dimensional_input_keeps_its_shape() -> None:
    close = _walk(np.random.default_rng(3), 6, 50).reshape(2, 3, 50)
    out = ind.ema(close, 10)
    assert out.shape == (2, 3, 50)
    np.testing.assert_allclose(out[1, 2], talib.EMA(close[1, 2], 10), rtol=RTOL)


@pytest.mark.parametrize(
    "call",
    [lambda c: ind.sma(c, 1), lambda c: ind.rsi(c, 0), lambda c: ind.ema(c, 2.5), lambda c: ind.macd(c, 1, 26, 9)],
)
def test_an_impossible_period_is_refused(call: Callable[[np.ndarray], object]) -> None:
    with pytest.raises(ValueError):
        call(np.arange(50.0))


def test_inputs_of_different_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        ind.obv(np.ones(10), np.ones(11))


class TestSignal:
    """Each vote follows the rule in kstock.indicators.signal's docstring, checked against TA-Lib's values."""

    @pytest.fixture(scope="class")
    def bars(self) -> dict[str, np.ndarray]:
        return _bars(_walk(np.random.default_rng(11), 8, DAYS), np.random.default_rng(12))

    def test_votes_follow_their_rules(self, bars: dict[str, np.ndarray]) -> None:
        h, lo, c, v = bars["high"], bars["low"], bars["close"], bars["volume"]
        result = ind.signal(h, lo, c, v)
        for row in range(c.shape[0]):
            hr, lr, cr, vr = h[row], lo[row], c[row], v[row]
            expected = {
                "rsi": _rule(talib.RSI(cr, 14) < 30, talib.RSI(cr, 14) > 70, talib.RSI(cr, 14)),
                "macd": _rule(talib.MACD(cr)[2] > 0, talib.MACD(cr)[2] < 0, talib.MACD(cr)[2]),
                "sma": _rule(cr > talib.SMA(cr, 20), cr < talib.SMA(cr, 20), talib.SMA(cr, 20)),
            }
            upper, _, lower = talib.BBANDS(cr, 20, 2.0, 2.0, 0)
            expected["bollinger"] = _rule(cr < lower, cr > upper, upper)
            k, d = talib.STOCH(hr, lr, cr, 14, 3, 0, 3, 0)
            expected["stochastic"] = _rule((k < 20) & (k > d), (k > 80) & (k < d), d)
            balance = talib.OBV(cr, vr)
            expected["obv"] = _rule(
                balance > talib.SMA(balance, 20), balance < talib.SMA(balance, 20), talib.SMA(balance, 20)
            )
            for name, want in expected.items():
                np.testing.assert_array_equal(result.votes[name][row], want, err_msg=name)
        stacked = np.stack(list(result.votes.values()))
        cast = ~np.isnan(stacked).all(axis=0)
        assert np.isnan(result.score[~cast]).all()
        np.testing.assert_allclose(result.score[cast], 100 * np.nanmean(stacked[:, cast], axis=0), rtol=1e-12)
        assert set(result.votes) == {"sma", "ema", "rsi", "macd", "bollinger", "stochastic", "obv", "atr"}
        assert np.nanmax(np.abs(result.score)) <= 100

    def test_labels_split_the_score_at_20_and_50(self) -> None:
        cases = {
            100.0: "strong buy",
            50.0: "strong buy",
            49.9: "buy",
            20.0: "buy",
            19.9: "neutral",
            0.0: "neutral",
            -19.9: "neutral",
            -20.0: "sell",
            -49.9: "sell",
            -50.0: "strong sell",
            -100.0: "strong sell",
        }
        for score, expected in cases.items():
            assert ind.signal_label(score) == expected, score

    def test_an_accelerating_rise_votes_with_the_trend_and_rsi_calls_it_overbought(self) -> None:
        close = 10_000.0 * 1.01 ** np.arange(120.0)
        result = ind.signal(close * 1.01, close * 0.99, close, np.full(120, 1000.0))
        latest = {name: vote[-1] for name, vote in result.votes.items()}
        assert latest["sma"] == latest["ema"] == latest["macd"] == latest["obv"] == 1.0
        assert latest["rsi"] == -1.0  # 100: every day a gain
        assert result.labels.shape == close.shape and result.labels[-1] in ("buy", "strong buy")

    def test_a_day_without_enough_history_casts_no_vote(self) -> None:
        close = np.linspace(100.0, 120.0, 10)
        result = ind.signal(close, close, close, np.ones(10))
        assert np.isnan(result.votes["macd"]).all() and np.isnan(result.votes["rsi"]).all()
        assert result.labels[0] == "neutral"


def _rule(buy: np.ndarray, sell: np.ndarray, defined_by: np.ndarray) -> np.ndarray:
    out = np.where(buy, 1.0, np.where(sell, -1.0, 0.0))
    out[np.isnan(defined_by)] = np.nan
    return out
