"""DART ingestion shared by the scheduled jobs, the workers and ``kstock dart sync``.

* :func:`sync_corp_codes` (monthly): corpCode.xml -> dart_corp_codes.
* :func:`sync_filings` (daily, after 18:00 KST): new filings since the newest stored one. With
  ``symbols`` each company is asked for its own filings (a backfill); without, one market-wide
  search covers every company already backfilled (DART searches all companies over at most three
  months, in a handful of pages instead of one call per company), and companies never backfilled
  get their own search in the same run, or, with ``backfill=False``, are left to workers
  (:func:`unbackfilled_symbols`).
* :func:`sync_financials` (after each reporting season): key accounts per company, year and report.

All writes are idempotent upserts; each function reports progress through an optional callback
and answers a :class:`SyncResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from kstock import db
from kstock.dart import store
from kstock.dart.client import DartClient
from kstock.dart.models import ALL_REPORT_CODES, ANNUAL, FIRST_QUARTER, HALF, THIRD_QUARTER, Filing
from kstock.market.calendar import KST

# Periodic reports (A) and major-event reports (B: capital increases, mergers, buy-backs ...).
# Ownership filings (D) are left out: hundreds a year for a large company, and not what a user
# reading a company's filings is after.
DEFAULT_FILING_KINDS: tuple[str, ...] = ("A", "B")
MARKET_WIDE_MAX_DAYS = 89  # DART limits a search without corp_code to three months
BACKFILL_DAYS = 3 * 365  # a company's first filings search reaches back this far


@dataclass(frozen=True, slots=True)
class SyncProgress:
    kind: str  # corp_codes / filings / financials
    done: int
    total: int
    symbol: str | None = None


Progress = Callable[[SyncProgress], None]


@dataclass(slots=True)
class SyncResult:
    kind: str
    companies: int = 0  # companies covered
    fetched: int = 0  # rows DART answered (corp codes, filings, periods with figures)
    changed: int = 0  # rows inserted or updated
    calls: int = 0  # requests sent to DART
    missing: list[str] = field(default_factory=list)  # asked-for symbols DART has no corp code for


def today_kst() -> date:
    return datetime.now(KST).date()


def _report(progress: Progress | None, event: SyncProgress) -> None:
    if progress is not None:
        progress(event)


def _missing(symbols: Iterable[str] | None, companies: Sequence[dict[str, Any]]) -> list[str]:
    if symbols is None:
        return []
    return sorted(set(symbols) - {c["symbol"] for c in companies})


# -- corp codes ------------------------------------------------------------------------------


def sync_corp_codes(client: DartClient, *, progress: Progress | None = None) -> SyncResult:
    calls = client.calls
    codes, source = client.corp_codes()
    with db.transaction() as conn:
        changed = store.replace_corp_codes(conn, codes, source)
        matched = len(store.companies_with_corp_codes(conn))
    _report(progress, SyncProgress("corp_codes", len(codes), len(codes)))
    return SyncResult("corp_codes", companies=matched, fetched=len(codes), changed=changed, calls=client.calls - calls)


# -- filings ---------------------------------------------------------------------------------


def sync_filings(
    client: DartClient,
    *,
    symbols: Iterable[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    kinds: Sequence[str] = DEFAULT_FILING_KINDS,
    backfill: bool = True,
    progress: Progress | None = None,
) -> SyncResult:
    """Fetch filings up to ``until`` (today KST) from ``since`` (default: the newest stored one).

    ``backfill=False`` (with no symbols) runs the market-wide search only: the scheduled job does
    that and enqueues :func:`unbackfilled_symbols` in chunks for workers, each calling this with
    ``symbols`` (thousands of per-company searches do not fit one Lambda run against the real API).
    """
    until = until or today_kst()
    wanted = list(symbols) if symbols is not None else None
    calls = client.calls
    with db.read() as conn:
        companies = store.companies_with_corp_codes(conn, wanted)
        backfilled = store.refreshed_company_ids(conn, store.FILINGS) if wanted is None else set()
    result = SyncResult("filings", companies=len(companies), missing=_missing(wanted, companies))
    never_searched = [c for c in companies if c["company_id"] not in backfilled]
    per_company = never_searched if backfill or wanted is not None else []
    market_wide = [c for c in companies if c["company_id"] in backfilled]
    total = len(per_company) + (1 if market_wide else 0)
    for done, company in enumerate(per_company, 1):
        _sync_company_filings(client, company, since, until, kinds, result)
        _report(progress, SyncProgress("filings", done, total, company["symbol"]))
    if market_wide:
        _sync_market_filings(client, market_wide, since, until, kinds, result)
        _report(progress, SyncProgress("filings", total, total))
    result.calls = client.calls - calls
    return result


def unbackfilled_symbols() -> list[str]:
    """Companies with a corp code whose filings were never searched (their backfill is due)."""
    with db.read() as conn:
        done = store.refreshed_company_ids(conn, store.FILINGS)
        return [c["symbol"] for c in store.companies_with_corp_codes(conn) if c["company_id"] not in done]


def _sync_company_filings(
    client: DartClient,
    company: dict[str, Any],
    since: date | None,
    until: date,
    kinds: Sequence[str],
    result: SyncResult,
) -> None:
    with db.read() as conn:
        begin = since or store.latest_filing_day(conn, [company["company_id"]]) or until - timedelta(BACKFILL_DAYS)
    filings = [
        f for kind in kinds for f in client.filings(begin=begin, end=until, corp_code=company["corp_code"], kind=kind)
    ]
    with db.transaction() as conn:
        result.changed += store.upsert_filings(conn, company["company_id"], filings)
        store.mark_refreshed(conn, [company["company_id"]], store.FILINGS)
    result.fetched += len(filings)


def _sync_market_filings(
    client: DartClient,
    companies: Sequence[dict[str, Any]],
    since: date | None,
    until: date,
    kinds: Sequence[str],
    result: SyncResult,
) -> None:
    by_corp = {c["corp_code"]: c["company_id"] for c in companies}
    # The last market-wide search covered every one of these companies up to its day, so their newest
    # stored filing is never later than that day (companies backfilled in this run are not among them).
    with db.read() as conn:
        begin = since or store.latest_filing_day(conn, by_corp.values()) or until
    # Older gaps than DART's three-month window are a per-company backfill (pass symbols).
    begin = max(begin, until - timedelta(MARKET_WIDE_MAX_DAYS))
    mine: dict[int, list[Filing]] = {}
    for kind in kinds:
        for filing in client.filings(begin=begin, end=until, kind=kind):
            company_id = by_corp.get(filing.corp_code)
            if company_id is not None:
                mine.setdefault(company_id, []).append(filing)
    with db.transaction() as conn:
        for company_id, filings in mine.items():
            result.changed += store.upsert_filings(conn, company_id, filings)
        store.mark_refreshed(conn, by_corp.values(), store.FILINGS)
    result.fetched += sum(len(f) for f in mine.values())


# -- financials ------------------------------------------------------------------------------

# When each periodic report is due (Capital Markets Act: annual within 90 days of year end,
# quarterly and half-year within 45): the season's job runs after these days.
_DUE = ((3, 31, ANNUAL, -1), (5, 15, FIRST_QUARTER, 0), (8, 14, HALF, 0), (11, 14, THIRD_QUARTER, 0))


def latest_season(today: date | None = None) -> tuple[int, str]:
    """The (business year, reprt_code) of the last reporting season whose deadline has passed."""
    today = today or today_kst()
    for month, day, reprt_code, year_offset in reversed(_DUE):
        if (today.month, today.day) > (month, day):
            return today.year + year_offset, reprt_code
    return today.year - 1, THIRD_QUARTER


def recent_years(count: int, today: date | None = None) -> list[int]:
    """The last ``count`` business years, the current one included (its quarters may be filed)."""
    today = today or today_kst()
    return [today.year - n for n in range(max(count, 1))]


def sync_financials(
    client: DartClient,
    *,
    symbols: Iterable[str] | None = None,
    years: Iterable[int] | None = None,
    report_codes: Sequence[str] = ALL_REPORT_CODES,
    progress: Progress | None = None,
) -> SyncResult:
    """Key accounts of every company with a corp code (or of ``symbols``) for ``years`` x ``report_codes``.

    A report not filed yet (013) stores nothing; the company is still marked refreshed."""
    wanted = list(symbols) if symbols is not None else None
    year_list = sorted(set(years)) if years is not None else recent_years(3)
    calls = client.calls
    with db.read() as conn:
        companies = store.companies_with_corp_codes(conn, wanted)
    result = SyncResult("financials", companies=len(companies), missing=_missing(wanted, companies))
    for done, company in enumerate(companies, 1):
        found = [
            figures
            for year in year_list
            for code in report_codes
            if (figures := client.period_figures(company["corp_code"], year, code)) is not None
        ]
        with db.transaction() as conn:
            for figures in found:
                result.changed += store.upsert_figures(conn, company["company_id"], figures)
            store.mark_refreshed(conn, [company["company_id"]], store.FINANCIALS)
        result.fetched += len(found)
        _report(progress, SyncProgress("financials", done, len(companies), company["symbol"]))
    result.calls = client.calls - calls
    return result


# -- everything at once (``kstock dart sync``) -------------------------------------------------


def sync_all(
    client: DartClient,
    *,
    symbols: Iterable[str] | None = None,
    years: int = 3,
    refresh_corp_codes: bool = False,
    progress: Progress | None = None,
) -> list[SyncResult]:
    """Corp codes (when none are stored, or asked), then filings, then key accounts of the last
    ``years`` business years: the operator's ``kstock dart sync [--symbols ...] [--years N]``."""
    wanted = list(symbols) if symbols is not None else None
    results = []
    if refresh_corp_codes or not _any_corp_code():
        results.append(sync_corp_codes(client, progress=progress))
    results.append(sync_filings(client, symbols=wanted, progress=progress))
    results.append(sync_financials(client, symbols=wanted, years=recent_years(years), progress=progress))
    return results


def _any_corp_code() -> bool:
    with db.read() as conn:
        return conn.execute("SELECT 1 FROM dart_corp_codes LIMIT 1").fetchone() is not None
