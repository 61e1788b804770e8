"""Technical indicators, vectorised over a panel (symbols x days, time on the last axis).

Names, defaults, definitions and warm-up positions follow TA-Lib, the field's reference, and the tests
hold every function to it. See :mod:`kstock.indicators._rows` for shapes, late starts and NaNs.
"""

from kstock.indicators.averages import bollinger, ema, macd, sma
from kstock.indicators.momentum import rsi, stochastic
from kstock.indicators.signal import Signal, signal
from kstock.indicators.signal import label as signal_label
from kstock.indicators.volatility import atr, true_range
from kstock.indicators.volume import obv

__all__ = [
    "Signal",
    "atr",
    "bollinger",
    "ema",
    "macd",
    "obv",
    "rsi",
    "signal",
    "signal_label",
    "sma",
    "stochastic",
    "true_range",
]
