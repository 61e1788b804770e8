"""The OpenDART stand-in: an aiohttp server speaking corpCode.xml, list.json and fnlttSinglAcnt.json.

Programmatic use (``kstock up``, tests)::

    async with DartStandIn(DartStandInConfig(port=0)) as standin:
        standin.url                     # e.g. http://127.0.0.1:43121/api -> DART_API_URL
        standin.state.maintenance = True  # hooks for tests: 800 from now on

Like the real API it needs ``crtfc_key`` (status 010 without a known one), answers ``013`` when
there is nothing, ``020`` past a daily limit per key and ``800`` in maintenance. Every answer carries
``X-Kstock-Source: simulated``, which the client turns into source ``simulated``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from kstock.dart.models import REPORT_PERIODS, SIMULATED
from kstock.market.calendar import KST
from kstock.provenance import SOURCE_HEADER
from kstock_local.dart_sim import wire
from kstock_local.dart_sim.content import DartContent
from kstock_local.standin import LoopbackServer, ServerThread

log = logging.getLogger("kstock_local.dart_sim")

MARKET_WIDE_MAX_DAYS = 92  # DART: a search without corp_code covers at most three months


@dataclass
class DartStandInConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port
    seed: int = 20250714  # the KIS simulator's seed: company sizes agree with its market
    corp_code_count: int = 1000  # entries of CORPCODE.xml (seeded companies + padding)
    history_years: int = 4  # business years of filings and key accounts before this one
    api_keys: frozenset[str] | None = None  # None: any non-empty key is accepted
    daily_limit: int | None = None  # calls per key per KST day before 020 (real: 20,000)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(KST))

    @classmethod
    def from_settings(cls, **overrides: Any) -> DartStandInConfig:
        from kstock_local.settings import get_local_settings

        return cls(**{"seed": get_local_settings().kis_sim_seed, **overrides})


@dataclass
class StandInState:
    maintenance: bool = False
    calls: Counter[str] = field(default_factory=Counter)  # per path
    calls_per_key_day: Counter[tuple[str, date]] = field(default_factory=Counter)


class DartApi:
    """The request handlers; content is built lazily, on the first request that needs it."""

    def __init__(self, config: DartStandInConfig, state: StandInState) -> None:
        self.config = config
        self.state = state
        self.content = DartContent(
            config.seed, corp_code_count=config.corp_code_count, history_years=config.history_years, today=self.today()
        )
        self._zip: bytes | None = None

    def today(self) -> date:
        return self.config.clock().astimezone(KST).date()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._label])
        app.router.add_get("/api/corpCode.xml", self.corp_codes)
        app.router.add_get("/api/list.json", self.filings)
        app.router.add_get("/api/fnlttSinglAcnt.json", self.key_accounts)
        return app

    @web.middleware
    async def _label(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        response.headers[SOURCE_HEADER] = SIMULATED
        return response

    def _refusal(self, request: web.Request) -> str | None:
        """The status code refusing this call (key, maintenance, daily limit), or None."""
        self.state.calls[request.path] += 1
        key = request.query.get("crtfc_key", "").strip()
        if not key or (self.config.api_keys is not None and key not in self.config.api_keys):
            return "010"
        if self.state.maintenance:
            return "800"
        counted = (key, self.today())
        self.state.calls_per_key_day[counted] += 1
        if self.config.daily_limit is not None and self.state.calls_per_key_day[counted] > self.config.daily_limit:
            return "020"
        return None

    async def corp_codes(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused:
            return web.Response(body=wire.status_xml(refused), content_type="application/xml")
        if self._zip is None:
            self._zip = await asyncio.get_running_loop().run_in_executor(None, wire.corp_code_zip, self.content.corps)
        return web.Response(
            body=self._zip,
            content_type="application/x-msdownload",
            headers={"Content-Disposition": "attachment; filename=CORPCODE.zip"},
        )

    async def filings(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused:
            return web.json_response(wire.status(refused))
        query, today = request.query, self.today()
        end = wire.parse_day(query.get("end_de"), today)
        begin = wire.parse_day(query.get("bgn_de"), end or today)
        page_no, page_count = _int(query.get("page_no"), 1), _int(query.get("page_count"), 10)
        corp_code = query.get("corp_code", "").strip()
        if (
            begin is None
            or end is None
            or begin > end
            or page_no is None
            or page_no < 1
            or page_count is None
            or not 1 <= page_count <= 100
            or (not corp_code and end - begin > timedelta(MARKET_WIDE_MAX_DAYS))
        ):
            return web.json_response(wire.status("100"))
        kind = query.get("pblntf_ty", "").strip()
        found = [
            f
            for f in self.content.filings
            if begin <= f.filed_on <= min(end, today)
            and (not corp_code or f.corp.corp_code == corp_code)
            and (not kind or f.kind == kind)
        ]
        return web.json_response(wire.filing_page(found, page_no, page_count))

    async def key_accounts(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused:
            return web.json_response(wire.status(refused))
        query = request.query
        year, reprt_code = _int(query.get("bsns_year"), None), query.get("reprt_code", "")
        if year is None or year < 2015 or reprt_code not in REPORT_PERIODS or not query.get("corp_code"):
            return web.json_response(wire.status("100"))
        filing = self.content.periodic_filing(query["corp_code"], year, reprt_code)
        if filing is None or filing.filed_on > self.today():
            return web.json_response(wire.status("013"))
        return web.json_response({**wire.status("000"), "list": wire.key_account_rows(self.content, filing)})


def _int(text: str | None, default: int | None) -> int | None:
    if text is None or text == "":
        return default
    return int(text) if text.isdigit() else None


class DartStandIn(LoopbackServer):
    name = "OpenDART stand-in"

    def __init__(self, config: DartStandInConfig | None = None) -> None:
        self.config = config or DartStandInConfig()
        super().__init__(self.config.host, self.config.port)
        self.state = StandInState()
        self.api = DartApi(self.config, self.state)

    def app(self) -> web.Application:
        return self.api.app()

    @property
    def url(self) -> str:
        """The base URL to put in DART_API_URL (the real one ends in /api too)."""
        return f"http://{self.host}:{self.port}/api"


class DartStandInThread(ServerThread[DartStandIn]):
    """The stand-in on its own event loop in a daemon thread, for synchronous callers and tests."""

    def __init__(self, config: DartStandInConfig | None = None) -> None:
        super().__init__(DartStandIn(config))
