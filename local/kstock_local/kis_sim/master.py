"""The simulator's stock master files: ``kospi_code.mst.zip`` / ``kosdaq_code.mst.zip`` of its universe.

KIS publishes the exchange's listing as fixed-width cp949 files (:mod:`kstock.listings.master`). The
simulator writes the same layout for what it trades: every seeded company in its market's file, and
its ELWs (group ``EW``) in the KOSPI file. Served at ``/common/master/{file}.zip`` on the REST port,
the path KIS uses, so ``KIS_MASTER_URL=http://127.0.0.1:9443/common/master`` reads them as it reads
KIS's. Nothing is halted or warned on the simulated exchange unless a test says so
(``designations``); base prices are the previous closes, listed shares the simulated ones.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from aiohttp import web

from kstock.companies.reference import load_companies
from kstock.listings.master import (
    CAP_UNIT,
    ENCODING,
    LAYOUTS,
    NAME_BYTES,
    SHARES_UNIT,
    WARNING_CODE,
    Layout,
    Market,
    MarketWarning,
)
from kstock_local.kis_sim.market import Market as SimMarket
from kstock_local.kis_sim.market import Security

MASTER_PATH = "/common/master/{file}"


@dataclass(frozen=True)
class Designation:
    """What the exchange says about one instrument; the simulator's default is nothing."""

    halted: bool = False
    administrative: bool = False
    liquidating: bool = False
    warning: MarketWarning = MarketWarning.NONE


def isin(code: str, prefix: str = "KR7") -> str:
    """The standard code KRX gives a short code: prefix + code + ``00`` + the ISIN check digit."""
    body = f"{prefix}{code}00"
    digits = "".join(str(int(ch, 36)) for ch in body)  # letters count as 10..35, as ISO 6166 says
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    return body + str((10 - total % 10) % 10)


def fit_name(name: str) -> str:
    """The name cut to the 40 bytes of its field, never inside a character."""
    while len(name.encode(ENCODING)) > NAME_BYTES:
        name = name[:-1]
    return name


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def master_record(
    layout: Layout, sec: Security, listed_on: date | None, designation: Designation | None = None
) -> bytes:
    """One record of ``layout``'s file for a simulated stock or ELW."""
    designation = designation or Designation()
    part2 = layout.blank()
    values = {
        "group": "EW" if sec.is_elw else "ST",
        "cap_scale": "0",
        "index_large": "0000",
        "index_medium": "0000",
        "index_small": "0000",
        "base_price": str(sec.prev_close),
        "lot": "1",
        "after_hours_lot": "1",
        "halted": _yn(designation.halted),
        "liquidating": _yn(designation.liquidating),
        "administrative": _yn(designation.administrative),
        "warning": WARNING_CODE[designation.warning],
        "warning_notice": "N",
        "prev_volume": str(sec.prev_volume),
        "listed_on": listed_on.strftime("%Y%m%d") if listed_on else "00000000",
        "listed_shares": str(sec.listed_shares // SHARES_UNIT),  # the file counts thousands, floored
        "preferred": "0",
        "spac": "N",
        "market_cap": str(sec.prev_close * sec.listed_shares // CAP_UNIT),  # 억원
    }
    if layout.market == "KOSDAQ":
        values["caution_reminder"] = "N"
    for name, value in values.items():
        layout.put(part2, name, value)
    return layout.record(sec.symbol, isin(sec.symbol, "KRA" if sec.is_elw else "KR7"), fit_name(sec.name), part2)


def master_file(market: SimMarket, which: Market, designations: Mapping[str, Designation] | None = None) -> bytes:
    """The ``.mst`` bytes of one market: its stocks, then (KOSPI) the ELWs; one record a line."""
    layout = LAYOUTS[which]
    listed_on = {c.symbol: c.listed_on for c in load_companies()}
    members = [s for s in market.stocks.values() if s.market == which]
    if which == "KOSPI":
        members += list(market.elws.values())
    given = designations or {}
    lines = [master_record(layout, s, listed_on.get(s.symbol), given.get(s.symbol)) for s in members]
    return b"".join(line + b"\n" for line in lines)


def master_zip(market: SimMarket, which: Market, designations: Mapping[str, Designation] | None = None) -> bytes:
    """``{file}.zip`` as KIS serves it: a zip holding the one ``.mst`` file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(LAYOUTS[which].file_name, master_file(market, which, designations))
    return buffer.getvalue()


class MasterFiles:
    """The route's handler: one zip per market and session day, built on first request."""

    def __init__(self, market: SimMarket) -> None:
        self.market = market
        self._built: dict[tuple[str, date], bytes] = {}

    async def handle(self, request: web.Request) -> web.Response:
        file = request.match_info["file"]
        which = next((m for m, layout in LAYOUTS.items() if f"{layout.file_name}.zip" == file), None)
        if which is None:
            raise web.HTTPNotFound(text=f"no master file {file}")
        key = (which, self.market.session_day)
        if key not in self._built:  # a new session day: new base prices, yesterday's files go
            kept = {k: v for k, v in self._built.items() if k[1] == key[1]}
            self._built = {**kept, key: master_zip(self.market, which)}
        return web.Response(body=self._built[key], content_type="application/zip")


def add_master_routes(app: web.Application, market: SimMarket) -> None:
    """Serve ``/common/master/kospi_code.mst.zip`` and ``kosdaq_code.mst.zip`` on ``app``."""
    app.router.add_get(MASTER_PATH, MasterFiles(market).handle)
