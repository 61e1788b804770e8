"""The simulator's investor trend (FHKST01010900 inquire-investor), in KIS's wire format.

Flows are simulated, deterministic per symbol and day: each symbol has a lasting tilt (some are
accumulated by foreigners and institutions, some distributed), plus daily noise, as a share of that
day's volume; individuals take the other side. Today's row has blank figures while the session runs,
as KIS publishes them after the close.
"""

from __future__ import annotations

import random
from typing import Any

from kstock_local.kis_sim.market import DayBar, Security

ROWS = 30


def _flows(symbol: str, bar: DayBar) -> tuple[int, int]:
    tilt = random.Random(f"investor-tilt:{symbol}").uniform(-0.06, 0.06)
    daily = random.Random(f"investor:{symbol}:{bar.day.isoformat()}")
    foreign = round(bar.volume * (tilt + daily.uniform(-0.05, 0.05)))
    institution = round(bar.volume * (tilt / 2 + daily.uniform(-0.04, 0.04)))
    return foreign, institution


def _s(value: int) -> str:
    return str(value)


def investor_rows(sec: Security, bars: list[DayBar], session_open: bool) -> list[dict[str, Any]]:
    """The last ``ROWS`` days of ``bars`` (oldest first in, newest first out)."""
    rows = []
    window = bars[-(ROWS + 1) :]
    for prev, bar in zip(window, window[1:], strict=False):
        diff = int(bar.close) - int(prev.close)
        row: dict[str, Any] = {
            "stck_bsop_date": bar.day.strftime("%Y%m%d"),
            "stck_clpr": _s(int(bar.close)),
            "prdy_vrss": _s(diff),
            "prdy_vrss_sign": "2" if diff > 0 else "5" if diff < 0 else "3",
        }
        if bar is bars[-1] and session_open:
            row.update(
                {
                    f"{who}_{what}": ""
                    for who in ("prsn", "frgn", "orgn")
                    for what in ("ntby_qty", "ntby_tr_pbmn", "shnu_vol", "seln_vol")
                }
            )
        else:
            foreign, institution = _flows(sec.symbol, bar)
            base = bar.volume // 10
            for who, net in (("prsn", -(foreign + institution)), ("frgn", foreign), ("orgn", institution)):
                row[f"{who}_ntby_qty"] = _s(net)
                row[f"{who}_ntby_tr_pbmn"] = _s(round(net * bar.close / 1_000_000))
                row[f"{who}_shnu_vol"] = _s(base + max(net, 0))
                row[f"{who}_seln_vol"] = _s(base + max(-net, 0))
        rows.append(row)
    return rows[::-1]
