"""DartQueue messages: one DART load for a few companies, run by DartWorkerFunction.

A message is ``{"symbols": ["005930", ...], "parts": ["filings", "financials"], "years": [2025],
"reportCodes": ["11011"]}``; ``parts`` defaults to both, ``years`` to the last DART_SYNC_YEARS
business years and ``reportCodes`` to every periodic report. The scheduled jobs, a favorite or
holding add and the first ``kstock up`` all send these, a few symbols each, so one Lambda run stays
short even against the real API (about 14 calls per company for three years).

A message that does not parse raises :class:`pydantic.ValidationError`: the worker lets it fail,
and the queue's redrive policy moves it to the DLQ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from kstock import db
from kstock.config import get_settings
from kstock.dart import store
from kstock.dart.client import DartClient
from kstock.dart.models import ALL_REPORT_CODES
from kstock.dart.sync import Progress, SyncResult, recent_years, sync_corp_codes, sync_filings, sync_financials

Part = Literal["filings", "financials"]
MAX_SYMBOLS = 20  # per message: a worker run of ~280 calls at most
BOTH: tuple[Part, ...] = ("filings", "financials")
_SYMBOL = re.compile(r"^[0-9A-Z]{6}$")


class DartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    symbols: list[str] = Field(min_length=1, max_length=MAX_SYMBOLS)
    parts: list[Part] = Field(default_factory=lambda: list(BOTH), min_length=1)
    years: list[int] | None = Field(None, min_length=1, max_length=10)
    report_codes: list[str] | None = Field(None, min_length=1)

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not _SYMBOL.match(s)]
        if bad:
            raise ValueError(f"not stock codes: {bad}")
        return value

    @field_validator("years")
    @classmethod
    def _years(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(not 2015 <= y <= 2100 for y in value):  # OpenDART key accounts start in 2015
            raise ValueError(f"business years must be 2015 or later: {value}")
        return value

    @field_validator("report_codes")
    @classmethod
    def _report_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not set(value) <= set(ALL_REPORT_CODES):
            raise ValueError(f"report codes must be among {ALL_REPORT_CODES}: {value}")
        return value

    def message(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def requests_for(
    symbols: Iterable[str],
    *,
    parts: Sequence[Part] = BOTH,
    years: Sequence[int] | None = None,
    report_codes: Sequence[str] | None = None,
    size: int = 5,
) -> list[DartRequest]:
    """``symbols`` cut into messages of ``size`` (order kept: the first symbols load first)."""
    listed = list(dict.fromkeys(symbols))
    return [
        DartRequest(
            symbols=listed[i : i + size],
            parts=list(parts),
            years=list(years) if years else None,
            report_codes=list(report_codes) if report_codes else None,
        )
        for i in range(0, len(listed), max(1, min(size, MAX_SYMBOLS)))
    ]


def run(request: DartRequest, client: DartClient, *, progress: Progress | None = None) -> list[SyncResult]:
    """Load what ``request`` asks for; corp codes first when none are stored yet (a fresh database)."""
    results: list[SyncResult] = []
    if not _any_corp_code():
        results.append(sync_corp_codes(client, progress=progress))
    if "filings" in request.parts:
        results.append(sync_filings(client, symbols=request.symbols, progress=progress))
    if "financials" in request.parts:
        years = request.years or recent_years(get_settings().dart_sync_years)
        codes = request.report_codes or ALL_REPORT_CODES
        results.append(
            sync_financials(client, symbols=request.symbols, years=years, report_codes=codes, progress=progress)
        )
    _mark_missing(results)
    return results


def _mark_missing(results: Sequence[SyncResult]) -> None:
    """A company DART has no corp code for (not listed there, or a fund) has nothing to load: its
    load is still done, so data-status can report it complete instead of waiting forever."""
    for result in results:
        if result.missing and result.kind in (store.FILINGS, store.FINANCIALS):
            with db.transaction() as conn:
                rows: list[Any] = conn.execute(
                    "SELECT id FROM companies WHERE symbol = ANY(%s)", (result.missing,)
                ).fetchall()
                store.mark_refreshed(conn, [r["id"] for r in rows], result.kind)


def _any_corp_code() -> bool:
    with db.read() as conn:
        return conn.execute("SELECT 1 FROM dart_corp_codes LIMIT 1").fetchone() is not None
