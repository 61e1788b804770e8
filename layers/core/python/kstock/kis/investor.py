"""KIS investor trend per stock (국내주식 종목별 투자자매매동향, FHKST01010900): daily net buying by
individuals, foreigners and institutions, the last 30 trading days, for the scans' smart-money score.

Wire format: ``GET /uapi/domestic-stock/v1/quotations/inquire-investor`` with ``FID_COND_MRKT_DIV_CODE=J``
and ``FID_INPUT_ISCD``; ``output`` is a list of days, newest first, every number a string:
``stck_bsop_date`` (YYYYMMDD), ``stck_clpr``, ``prsn_ntby_qty`` / ``frgn_ntby_qty`` / ``orgn_ntby_qty``
(net shares), ``*_ntby_tr_pbmn`` (net value, million won), ``*_shnu_vol`` / ``*_seln_vol`` (shares bought
and sold). During the session today's row comes with blank figures (KIS publishes them after the close):
a blank is unknown, never zero, so such a row is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kstock.kis.endpoints import Endpoint
from kstock.kis.errors import KisProtocolError

INVESTOR_TREND = Endpoint("/uapi/domestic-stock/v1/quotations/inquire-investor", "FHKST01010900")
FIGURES = ("prsn_ntby_qty", "frgn_ntby_qty", "orgn_ntby_qty")


@dataclass(frozen=True)
class InvestorDay:
    day: date
    close: int
    individual_net: int  # shares, negative for net selling
    foreign_net: int
    institution_net: int


def _number(value: Any) -> int | None:
    text = str(value if value is not None else "").strip().replace(",", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise KisProtocolError(f"investor trend figure is not a number: {value!r}") from None


def parse(body: dict[str, Any]) -> list[InvestorDay]:
    """The days of an answer with every figure known, oldest first."""
    rows = body.get("output") or []
    if not isinstance(rows, list):
        raise KisProtocolError("investor trend output is not a list")
    days = []
    for row in rows:
        stamp = str(row.get("stck_bsop_date") or "").strip()
        figures = [_number(row.get(name)) for name in FIGURES]
        if not stamp or any(f is None for f in figures):
            continue
        individual, foreign, institution = (int(f or 0) for f in figures)
        days.append(
            InvestorDay(
                day=datetime.strptime(stamp, "%Y%m%d").date(),
                close=_number(row.get("stck_clpr")) or 0,
                individual_net=individual,
                foreign_net=foreign,
                institution_net=institution,
            )
        )
    return sorted(days, key=lambda d: d.day)


def investor_trend(client: Any, symbol: str) -> list[InvestorDay]:
    """The last 30 trading days of ``symbol`` (a :class:`kstock.kis.rest.KisRestClient`), oldest first."""
    body, _ = client.get(INVESTOR_TREND, {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": symbol})
    return parse(body)
