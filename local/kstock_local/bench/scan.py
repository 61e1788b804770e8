"""``kstock bench scan``: the full-market scan math on a synthetic panel, on one core, three ways.

A seeded panel of random walks (default 2,500 symbols x 260 days) goes through:

1. kstock's vectorised numpy (kstock.indicators + kstock.scans): the eight indicators, trend template +
   RS rank, and the VCP detector, over the whole panel at once. Target: under 1 s.
2. The way open-source screeners do it: a loop over symbols, a pandas DataFrame each, the ``ta``
   package's indicators, pandas rolling windows for the trend template and RS, and a Python loop for the
   VCP swings (same rules as kstock.scans.vcp). Timed on a sample of symbols and extrapolated to the
   panel (the output says so). Target: kstock at least 30x faster.
3. TA-Lib's C functions over the same panel, one row per call (TA-Lib takes one series): the eight
   indicators only, against kstock's eight indicators.

The process pins itself to one CPU (``sched_setaffinity``) and asks BLAS/OpenMP pools for one thread
(threadpoolctl when installed; kstock's scan math makes no BLAS call either way). Each kstock and
TA-Lib figure is the best of ``--repeat`` runs; the per-symbol figure is one pass over the sample.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import numpy.typing as npt

from kstock import indicators as ind
from kstock.scans import rs, trend
from kstock.scans import vcp as vcp_rules
from kstock.scans.vcp import detect_vcp

Panel = dict[str, npt.NDArray[Any]]


def one_core() -> str:
    """Pin this process to one CPU; say which, and how BLAS pools were limited."""
    pinned = "no CPU pinning on this platform"
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = f"pinned to CPU {cpu}"
    return pinned


def _thread_limits() -> tuple[AbstractContextManager[Any], str]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext(), "threadpoolctl not installed; the scan math makes no BLAS calls"
    return threadpool_limits(limits=1), "BLAS/OpenMP pools limited to 1 thread"


def synthetic_panel(symbols: int, days: int, seed: int) -> Panel:
    """Seeded random walks in won, with a small drift so some symbols trend, and daily high, low, volume."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0003, 0.001, (symbols, 1))
    close = np.round(20_000 * np.exp(np.cumsum(rng.normal(0, 0.02, (symbols, days)) + drift, axis=1)))
    high = np.round(close * (1 + rng.uniform(0, 0.02, close.shape)))
    low = np.round(close * (1 - rng.uniform(0, 0.02, close.shape)))
    volume = np.asarray(rng.integers(10_000, 2_000_000, close.shape), dtype=np.float64)
    return {"high": high, "low": low, "close": close, "volume": volume}


# --- 1. kstock, vectorised -----------------------------------------------------------------------------


def kstock_indicators(p: Panel) -> None:
    h, lo, c, v = p["high"], p["low"], p["close"], p["volume"]
    ind.sma(c, 20), ind.ema(c, 20), ind.rsi(c, 14), ind.macd(c), ind.bollinger(c)
    ind.stochastic(h, lo, c), ind.obv(c, v), ind.atr(h, lo, c)


def kstock_trend_and_rs(p: Panel) -> npt.NDArray[Any]:
    rank = rs.rs_rank(p["close"])
    return trend.trend_template(p["close"], p["high"], p["low"], rank).passed


def kstock_vcp(p: Panel) -> npt.NDArray[Any]:
    return detect_vcp(p["high"], p["low"], p["close"], p["volume"]).detected


# --- 2. per symbol with pandas + ta, as screeners do --------------------------------------------------


def per_symbol_screen(p: Panel, rows: range) -> tuple[list[bool], list[bool]]:
    """The same work symbol by symbol: returns the trend-template (before RS) and VCP flags of ``rows``."""
    import pandas as pd
    import ta

    returns, templates, patterns = {}, [], []
    for row in rows:
        df = pd.DataFrame({name: p[name][row] for name in ("high", "low", "close", "volume")})
        close, high, low = df["close"], df["high"], df["low"]
        df["sma20"] = ta.trend.SMAIndicator(close, 20).sma_indicator()
        df["ema20"] = ta.trend.EMAIndicator(close, 20).ema_indicator()
        df["rsi"] = ta.momentum.RSIIndicator(close, 14).rsi()
        macd = ta.trend.MACD(close, window_slow=26, window_fast=12, window_sign=9)
        df["macd"], df["macd_signal"], df["macd_hist"] = macd.macd(), macd.macd_signal(), macd.macd_diff()
        bands = ta.volatility.BollingerBands(close, window=20, window_dev=2)
        df["bb_up"], df["bb_mid"], df["bb_low"] = (
            bands.bollinger_hband(),
            bands.bollinger_mavg(),
            bands.bollinger_lband(),
        )
        stoch = ta.momentum.StochasticOscillator(high, low, close, window=14, smooth_window=3)
        df["stoch_k"], df["stoch_d"] = stoch.stoch(), stoch.stoch_signal()
        df["obv"] = ta.volume.OnBalanceVolumeIndicator(close, df["volume"]).on_balance_volume()
        df["atr"] = ta.volatility.AverageTrueRange(high, low, close, window=14).average_true_range()
        sma50, sma150, sma200 = (close.rolling(n).mean() for n in (50, 150, 200))
        last = close.iloc[-1]
        low52, high52 = (
            low.rolling(252, min_periods=200).min().iloc[-1],
            high.rolling(252, min_periods=200).max().iloc[-1],
        )
        templates.append(
            bool(
                last > sma150.iloc[-1]
                and last > sma200.iloc[-1]
                and sma150.iloc[-1] > sma200.iloc[-1]
                and sma200.iloc[-1] > sma200.iloc[-21]
                and sma50.iloc[-1] > sma150.iloc[-1]
                and sma50.iloc[-1] > sma200.iloc[-1]
                and last > sma50.iloc[-1]
                and last >= 1.30 * low52
                and last >= 0.75 * high52
            )
        )
        if len(close) > 252:
            q = [close.iloc[-1 - 63 * k] for k in range(5)]
            returns[row] = sum(w * (q[k] / q[k + 1] - 1) for k, w in enumerate(rs.WEIGHTS))
        patterns.append(_vcp_one(df))
    pd.Series(returns, dtype=float).rank(pct=True)  # the universe-wide RS percentile
    return templates, patterns


def _vcp_one(df: Any) -> bool:
    """kstock.scans.vcp's rules for one symbol, in plain Python over lists (a screener's loop)."""
    tail = df.iloc[-vcp_rules.BASE_DAYS :]
    highs, lows, volumes = tail["high"].tolist(), tail["low"].tolist(), tail["volume"].tolist()
    pivots: list[tuple[str, int, float]] = []
    rising, extreme, at = True, highs[0], 0
    for t in range(1, len(highs)):
        if rising and lows[t] <= extreme * 0.97:
            pivots.append(("H", at, extreme))
            rising, extreme, at = False, lows[t], t
        elif not rising and highs[t] >= extreme * 1.03:
            pivots.append(("L", at, extreme))
            rising, extreme, at = True, highs[t], t
        elif rising and highs[t] > extreme:
            extreme, at = highs[t], t
        elif not rising and lows[t] < extreme:
            extreme, at = lows[t], t
    if not rising:
        pivots.append(("L", at, extreme))
    tops = [(i, price) for kind, i, price in pivots if kind == "H"]
    bottoms = [price for kind, _, price in pivots if kind == "L"]
    contractions = [((top - bottom) / top, i) for (i, top), bottom in zip(tops, bottoms, strict=False)]
    for n in (4, 3, 2):
        chosen = contractions[-n:]
        if len(chosen) < n or not vcp_rules.FIRST_DEPTH[0] <= chosen[0][0] <= vcp_rules.FIRST_DEPTH[1]:
            continue
        if all(later[0] < earlier[0] for earlier, later in zip(chosen, chosen[1:], strict=False)):
            first_at, last_at = chosen[0][1], chosen[-1][1]
            before = volumes[first_at:last_at]
            ratio = (sum(volumes[last_at:]) / len(volumes[last_at:])) / (sum(before) / len(before))
            near = df["close"].iloc[-1] >= vcp_rules.NEAR_HIGH * df["high"].iloc[-vcp_rules.YEAR :].max()
            return bool(ratio < 0.8 and near)
    return False


# --- 3. TA-Lib, one row per call ----------------------------------------------------------------------


def talib_indicators(p: Panel) -> None:
    import talib

    for row in range(p["close"].shape[0]):
        h, lo, c, v = p["high"][row], p["low"][row], p["close"][row], p["volume"][row]
        talib.SMA(c, 20), talib.EMA(c, 20), talib.RSI(c, 14), talib.MACD(c, 12, 26, 9)
        # moving averages of BBANDS and STOCH: TA-Lib's default, the simple one (kstock's too)
        talib.BBANDS(c, 20, 2.0, 2.0), talib.STOCH(h, lo, c, fastk_period=14, slowk_period=3, slowd_period=3)
        talib.OBV(c, v)
        talib.ATR(h, lo, c, 14)


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_scan(symbols: int, days: int, sample: int, repeat: int, seed: int) -> dict[str, float]:
    pinned = one_core()
    limits, threads = _thread_limits()
    panel = synthetic_panel(symbols, days, seed)
    figures: dict[str, float] = {}
    with limits:
        figures["indicators"] = best_of(repeat, lambda: kstock_indicators(panel))
        figures["trend + rs"] = best_of(repeat, lambda: kstock_trend_and_rs(panel))
        figures["vcp"] = best_of(repeat, lambda: kstock_vcp(panel))

        def everything() -> None:
            kstock_indicators(panel)
            kstock_trend_and_rs(panel)
            kstock_vcp(panel)

        figures["kstock"] = best_of(repeat, everything)
        rows = range(min(sample, symbols))
        start = time.perf_counter()
        _, patterns = per_symbol_screen(panel, rows)
        figures["per symbol sample"] = time.perf_counter() - start
        figures["per symbol"] = figures["per symbol sample"] * symbols / len(rows)
        figures["talib"] = best_of(repeat, lambda: talib_indicators(panel))
    ours = kstock_vcp(panel)[rows.start : rows.stop]
    agree, found = int((np.asarray(patterns) == ours).sum()), int(ours.sum())

    print(f"kstock bench scan: {symbols:,} symbols x {days} days of seeded random walks (seed {seed})")
    print(f"  one core: {pinned}; {threads}; kstock and TA-Lib figures are the best of {repeat} runs")
    print("  kstock, vectorised numpy over the panel")
    print(f"    indicators (SMA, EMA, RSI, MACD, Bollinger, stochastic, OBV, ATR)  {figures['indicators']:7.3f} s")
    print(f"    trend template + RS rank                                          {figures['trend + rs']:7.3f} s")
    print(f"    VCP                                                               {figures['vcp']:7.3f} s")
    verdict = "met" if figures["kstock"] < 1.0 else "NOT met"
    print(
        f"    all of it                                                         {figures['kstock']:7.3f} s"
        f"   (target under 1 s: {verdict})"
    )
    ratio = figures["per symbol"] / figures["kstock"]
    verdict = "met" if ratio >= 30 else "NOT met"
    print(
        f"  pandas + ta, one symbol at a time: {figures['per symbol sample']:.2f} s for {len(rows):,} symbols,"
        f" extrapolated to {symbols:,}: {figures['per symbol']:.1f} s"
    )
    print(
        f"    kstock is {ratio:.0f}x faster (target at least 30x: {verdict});"
        f" VCP verdicts agree on {agree}/{len(rows)} sampled symbols ({found} patterns among them)"
    )
    talib_ratio = figures["talib"] / figures["indicators"]
    faster = "kstock faster" if talib_ratio >= 1 else "TA-Lib faster"
    print(
        f"  TA-Lib C, one row per call, the same eight indicators: {figures['talib']:.3f} s"
        f"  (TA-Lib / kstock = {talib_ratio:.2f}: {faster})"
    )
    return figures


def add_scan_bench(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def run(args: argparse.Namespace) -> int:
        bench_scan(args.symbols, args.days, args.sample, args.repeat, args.seed)
        return 0

    parser = bench_sub.add_parser("scan", help="indicators + trend template + RS + VCP on a synthetic panel, one core")
    parser.add_argument("--symbols", type=int, default=2_500, help="symbols in the panel (default 2,500)")
    parser.add_argument("--days", type=int, default=260, help="trading days per symbol (default 260)")
    parser.add_argument("--sample", type=int, default=250, help="symbols timed per symbol with pandas + ta")
    parser.add_argument("--repeat", type=int, default=3, help="runs per vectorised figure (best is kept)")
    parser.add_argument("--seed", type=int, default=15)
    parser.set_defaults(func=run)


if __name__ == "__main__":
    main_parser = argparse.ArgumentParser(prog="kstock bench")
    add_scan_bench(main_parser.add_subparsers(dest="bench", required=True))
    arguments = main_parser.parse_args()
    raise SystemExit(arguments.func(arguments))
