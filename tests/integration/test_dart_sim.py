"""The OpenDART stand-in, through the real client over real sockets: wire format, rules, content."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest
import requests
from support.dart import TODAY, Clock

from kstock.companies.reference import load_companies
from kstock.dart.client import DartClient
from kstock.dart.errors import DartAuthError, DartMaintenance, DartQuotaExceeded, DartRequestError
from kstock.dart.models import ALL_REPORT_CODES, ANNUAL, CorpCode
from kstock_local.dart_sim import DartStandIn, DartStandInConfig, DartStandInThread

KEY = "f" * 40


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(TODAY)


@pytest.fixture(scope="module")
def standin(clock) -> Iterator[DartStandIn]:
    with DartStandInThread(DartStandInConfig(corp_code_count=3000, clock=clock)) as running:
        yield running


@pytest.fixture(scope="module")
def codes(standin) -> dict[str, CorpCode]:
    found, source = DartClient(standin.url, KEY).corp_codes()
    assert source == "simulated"
    return {c.stock_code: c for c in found}


def test_corp_code_zip_holds_3000_entries_and_every_seeded_company(standin, codes):
    raw = requests.get(f"{standin.url}/corpCode.xml", params={"crtfc_key": KEY}, timeout=30)
    assert raw.headers["X-Kstock-Source"] == "simulated"
    with zipfile.ZipFile(io.BytesIO(raw.content)) as archive:
        assert archive.namelist() == ["CORPCODE.xml"]
        entries = ElementTree.fromstring(archive.read("CORPCODE.xml")).findall("list")
    assert len(entries) == 3000
    assert len({e.findtext("corp_code") for e in entries}) == 3000
    blank = [e for e in entries if not (e.findtext("stock_code") or "").strip()]
    assert blank and all(e.findtext("stock_code") == " " for e in blank)  # unlisted: one space, as DART writes it
    seeded = {c.symbol: c.name for c in load_companies()}
    assert {s: codes[s].corp_name for s in seeded} == seeded
    assert len(codes) < 3000 and len(codes) > len(seeded)  # a few listed companies kstock does not seed


def test_key_is_required(standin):
    bare = requests.get(f"{standin.url}/list.json", timeout=10).json()
    assert bare == {"status": "010", "message": "등록되지 않은 키입니다."}
    with DartStandInThread(DartStandInConfig(api_keys=frozenset({KEY}))) as strict:
        with pytest.raises(DartAuthError) as raised:
            DartClient(strict.url, "0" * 40).corp_codes()
        assert raised.value.code == "010"
        assert DartClient(strict.url, KEY).filings_page(begin=TODAY, end=TODAY).filings is not None


def test_daily_limit_and_maintenance(codes, clock):
    samsung = codes["005930"].corp_code
    with DartStandInThread(DartStandInConfig(daily_limit=2, clock=clock)) as limited:
        dart = DartClient(limited.url, KEY)
        dart.period_figures(samsung, 2025, ANNUAL)
        dart.period_figures(samsung, 2025, ANNUAL)
        with pytest.raises(DartQuotaExceeded) as raised:
            dart.period_figures(samsung, 2025, ANNUAL)
        assert raised.value.code == "020" and dart.calls == 3  # never retried
        clock.now += timedelta(days=1)  # a new KST day, a new allowance
        try:
            assert dart.period_figures(samsung, 2025, ANNUAL) is not None
        finally:
            clock.now -= timedelta(days=1)
        limited.state.maintenance = True
        with pytest.raises(DartMaintenance):
            dart.corp_codes()


def test_filings_are_labelled_simulated_and_follow_the_reporting_calendar(standin, codes):
    dart = DartClient(standin.url, KEY)
    filings = list(dart.filings(begin=date(2025, 1, 1), end=TODAY, corp_code=codes["005930"].corp_code, kind="A"))
    assert [f.filed_on for f in filings] == sorted((f.filed_on for f in filings), reverse=True)  # newest first
    assert all(
        f.source == "simulated" and f.title.endswith("(simulated)") and f.filer_name.endswith("(simulated)")
        for f in filings
    )
    titles = [f.title.removesuffix(" (simulated)") for f in filings]
    assert titles == [
        "분기보고서 (2026.03)",
        "사업보고서 (2025.12)",
        "분기보고서 (2025.09)",
        "반기보고서 (2025.06)",
        "분기보고서 (2025.03)",
        "사업보고서 (2024.12)",
    ]
    months = [(f.filed_on.year, f.filed_on.month) for f in filings]
    assert months == [(2026, 5), (2026, 3), (2025, 11), (2025, 8), (2025, 5), (2025, 3)]
    assert all(f.filed_on.weekday() < 5 and len(f.receipt_no) == 14 for f in filings)
    assert {f.corp_cls for f in filings} == {"Y"}  # KOSPI


def test_market_wide_search_is_limited_to_three_months(standin):
    dart = DartClient(standin.url, KEY)
    with pytest.raises(DartRequestError) as raised:
        dart.filings_page(begin=TODAY - timedelta(days=200), end=TODAY)
    assert raised.value.code == "100"
    recent = list(dart.filings(begin=TODAY - timedelta(days=60), end=TODAY, kind="A"))
    assert len({f.corp_code for f in recent}) == len(load_companies())  # every company filed its Q1 report
    assert len({f.receipt_no for f in recent}) == len(recent)


def test_key_accounts_quarters_add_up_to_the_year(standin, codes):
    dart = DartClient(standin.url, KEY)
    samsung = codes["005930"].corp_code
    year = {code: dart.period_figures(samsung, 2025, code) for code in ALL_REPORT_CODES}
    assert all(f is not None and f.source == "simulated" for f in year.values())
    quarters = [year[c] for c in ("11013", "11012", "11014")]
    fy = year[ANNUAL]
    assert fy is not None and [q.period for q in quarters if q] == ["Q1", "Q2", "Q3"]
    assert fy.revenue is not None and fy.revenue > sum(q.revenue or 0 for q in quarters if q) > fy.revenue * 0.6
    assert len({(f.fs_div, f.receipt_no[:8]) for f in year.values() if f}) == 4  # one filing each
    # Not filed yet on the stand-in's day: 013, an empty answer.
    assert dart.period_figures(samsung, 2026, "11012") is None
    assert dart.period_figures(samsung, 2026, "11013") is not None


def test_sizes_follow_the_kis_market_and_some_companies_file_only_ofs(standin, codes):
    dart = DartClient(standin.url, KEY)
    figures = {
        s: dart.period_figures(codes[s].corp_code, 2025, ANNUAL)
        for s in list(codes)[:40]
        if s in {c.symbol for c in load_companies()}
    }
    assert {f.fs_div for f in figures.values() if f} == {"CFS", "OFS"}
    revenue = {s: f.revenue for s, f in figures.items() if f and f.revenue}
    biggest, smallest = max(revenue.values()), min(revenue.values())
    assert revenue["005930"] > 100_000_000_000_000 and biggest / smallest > 50  # 삼성전자: hundreds of trillions


def test_content_is_deterministic_from_the_seed(standin, codes, clock):
    samsung = codes["005930"]
    with DartStandInThread(DartStandInConfig(corp_code_count=3000, clock=clock)) as again:
        dart = DartClient(again.url, KEY)
        assert {c.stock_code: c for c in dart.corp_codes()[0]} == codes
        assert dart.period_figures(samsung.corp_code, 2024, ANNUAL) == DartClient(standin.url, KEY).period_figures(
            samsung.corp_code, 2024, ANNUAL
        )
    with DartStandInThread(DartStandInConfig(seed=7, clock=clock)) as other:
        assert {c.stock_code: c.corp_code for c in DartClient(other.url, KEY).corp_codes()[0]}["005930"] != (
            samsung.corp_code
        )


def test_filings_appear_when_their_day_comes(standin, codes, clock):
    dart = DartClient(standin.url, KEY)
    hynix = codes["000660"].corp_code
    before = {f.receipt_no for f in dart.filings(begin=date(2026, 1, 1), end=date(2026, 12, 31), corp_code=hynix)}
    clock.now += timedelta(days=90)  # past mid-August: the half-year report is filed
    try:
        after = list(dart.filings(begin=date(2026, 1, 1), end=date(2026, 12, 31), corp_code=hynix))
        assert before < {f.receipt_no for f in after}
        assert "반기보고서 (2026.06) (simulated)" in {f.title for f in after}
        assert dart.period_figures(hynix, 2026, "11012") is not None
    finally:
        clock.now -= timedelta(days=90)
