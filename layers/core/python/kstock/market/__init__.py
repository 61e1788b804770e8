"""Market basics: instrument codes, the KRX calendar, and KIS time conversion."""

from kstock.market.calendar import KST, is_trading_day, session_at
from kstock.market.codes import Instrument, InstrumentKind, InvalidCode, classify
from kstock.market.kistime import kis_to_utc

__all__ = [
    "KST",
    "Instrument",
    "InstrumentKind",
    "InvalidCode",
    "classify",
    "is_trading_day",
    "kis_to_utc",
    "session_at",
]
