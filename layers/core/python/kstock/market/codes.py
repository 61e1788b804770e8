"""Instrument codes of the Korean market: classification and validation.

Shapes accepted (see docs/kis-protocol.md section 10):

* stock / ETF: six digits (``005930``), or the newer alphanumeric listing codes of four digits,
  a letter and a digit (``0015N0``, ``0030R0``); an ``A`` prefix as some masters write it
  (``A005930``) is dropped;
* ETN: ``Q`` + six digits (``Q500001``), the form KIS REST and WebSocket require;
* ELW: six characters starting ``5x`` then a letter (``57LA24``, ``52L181``, ``58J297``).

Rejected with a reason: K-OTC's ten-digit codes (not traded on KRX, KIS cannot quote them),
empty input, wrong length, characters outside A-Z/0-9.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class InstrumentKind(StrEnum):
    STOCK = "STOCK"  # shares and ETFs: one code shape, the listing tells them apart
    ETN = "ETN"
    ELW = "ELW"


class InvalidCode(ValueError):
    """A string that is not a KRX instrument code kstock can handle."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code!r}: {reason}")
        self.code = code
        self.reason = reason


_NUMERIC_STOCK = re.compile(r"[0-9]{6}")
_ALNUM_STOCK = re.compile(r"[0-9]{4}[A-Z][0-9]")
_ELW = re.compile(r"5[0-9][A-Z][0-9A-Z]{3}")
_ETN = re.compile(r"Q[0-9]{6}")
_KOTC = re.compile(r"[0-9]{10}")
_ALLOWED = re.compile(r"[0-9A-Z]+")


@dataclass(frozen=True, slots=True)
class Instrument:
    code: str  # canonical code as kstock stores it (no A prefix; ETN keeps Q)
    kind: InstrumentKind

    @property
    def kis_market(self) -> str:
        """KIS FID_COND_MRKT_DIV_CODE: J for KRX stocks/ETF/ETN, W for ELW."""
        return "W" if self.kind is InstrumentKind.ELW else "J"


def classify(raw: str) -> Instrument:
    """Classify a user- or feed-supplied code, or raise :class:`InvalidCode` saying why."""
    if not isinstance(raw, str):
        raise InvalidCode(str(raw), "a code must be a string")
    code = raw.strip().upper()
    if not code:
        raise InvalidCode(raw, "empty code")
    if not _ALLOWED.fullmatch(code):
        raise InvalidCode(raw, "only letters A-Z and digits 0-9 are allowed")
    if _KOTC.fullmatch(code):
        raise InvalidCode(raw, "K-OTC codes (10 digits) are not traded on KRX and are not supported")
    if len(code) == 7 and code[0] == "A" and (_NUMERIC_STOCK.fullmatch(code[1:]) or _ALNUM_STOCK.fullmatch(code[1:])):
        code = code[1:]
    if _NUMERIC_STOCK.fullmatch(code) or _ALNUM_STOCK.fullmatch(code):
        return Instrument(code, InstrumentKind.STOCK)
    if _ETN.fullmatch(code):
        return Instrument(code, InstrumentKind.ETN)
    if _ELW.fullmatch(code):
        return Instrument(code, InstrumentKind.ELW)
    if len(code) != 6:
        raise InvalidCode(raw, f"KRX codes have 6 characters, this has {len(code)}")
    if code.isalpha():
        raise InvalidCode(raw, "a code cannot be letters only")
    raise InvalidCode(
        raw, "not a stock (6 digits or 4 digits+letter+digit), ETN (Q+6 digits) or ELW (5x+letter...) code"
    )


def is_valid(raw: str) -> bool:
    try:
        classify(raw)
    except InvalidCode:
        return False
    return True
