"""Contract tests: kstock.dart.client against a scripted HTTP server speaking OpenDART's wire format.

The answers are shapes captured from the real API (Samsung Electronics' 2018 annual key accounts,
list.json pages, CORPCODE.xml in a zip, status envelopes); the server runs on 127.0.0.1, port 0.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from aiohttp import web

from kstock.dart.accounts import parse_amount
from kstock.dart.client import DartClient
from kstock.dart.errors import (
    DartAuthError,
    DartMaintenance,
    DartProtocolError,
    DartQuotaExceeded,
    DartRequestError,
    DartUnavailable,
)
from kstock_local.embedded import free_port

KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 characters, like a real key


@dataclass
class Scripted:
    """Answers queued per path (status, body, headers); every request's query is recorded."""

    answers: dict[str, list[tuple[int, bytes, dict[str, str]]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def queue(self, path: str, body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.answers.setdefault(path, []).append((status, raw, headers or {}))

    def calls(self, path: str) -> list[dict[str, str]]:
        return [query for p, query in self.requests if p == path]


@pytest.fixture
def dart() -> Iterator[Scripted]:
    scripted = Scripted()

    async def answer(request: web.Request) -> web.Response:
        path = request.path.removeprefix("/api/")
        scripted.requests.append((path, dict(request.query)))
        queued = scripted.answers.get(path) or []
        if not queued:
            return web.Response(status=404, text="nothing scripted")
        status, body, headers = queued.pop(0)
        return web.Response(status=status, body=body, headers=headers)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    app = web.Application()
    app.router.add_get("/api/{path}", answer)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}/api"

    scripted.url = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield scripted
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def client(dart: Scripted, **kwargs: Any) -> DartClient:
    return DartClient(dart.url, KEY, backoff=0.01, backoff_max=0.02, **kwargs)


# -- captured shapes -------------------------------------------------------------------------------


def _row(fs_div: str, sj_div: str, name: str, amount: str, **extra: str) -> dict[str, str]:
    """A key-accounts row as OpenDART sends it (Samsung Electronics, 2018 사업보고서)."""
    return {
        "rcept_no": "20190401004781",
        "reprt_code": "11011",
        "bsns_year": "2018",
        "corp_code": "00126380",
        "stock_code": "005930",
        "fs_div": fs_div,
        "fs_nm": "연결재무제표" if fs_div == "CFS" else "재무제표",
        "sj_div": sj_div,
        "sj_nm": "재무상태표" if sj_div == "BS" else "손익계산서",
        "account_nm": name,
        "thstrm_nm": "제 50 기",
        "thstrm_dt": "2018.01.01 ~ 2018.12.31",
        "thstrm_amount": amount,
        "frmtrm_nm": "제 49 기",
        "frmtrm_dt": "2017.01.01 ~ 2017.12.31",
        "frmtrm_amount": "239,575,376,000,000",
        "ord": "23",
        "currency": "KRW",
        **extra,
    }


SAMSUNG_2018 = {
    "status": "000",
    "message": "정상",
    "list": [
        _row("CFS", "BS", "자산총계", "339,357,244,000,000"),
        _row("CFS", "IS", "매출액", "243,771,415,000,000"),
        _row("CFS", "IS", "영업이익", "58,886,669,000,000"),
        _row("CFS", "IS", "법인세차감전 순이익", "61,159,958,000,000"),
        _row("CFS", "IS", "당기순이익", "44,344,857,000,000"),
        _row("OFS", "BS", "자산총계", "219,021,357,000,000"),
        _row("OFS", "IS", "매출액", "170,381,870,000,000"),
        _row("OFS", "IS", "영업이익", "43,699,451,000,000"),
        _row("OFS", "IS", "당기순이익", "32,815,127,000,000"),
    ],
}

NO_DATA = {"status": "013", "message": "조회된 데이타가 없습니다."}


def _filing(n: int, **extra: str) -> dict[str, str]:
    return {
        "corp_code": "00126380",
        "corp_name": "삼성전자",
        "stock_code": "005930",
        "corp_cls": "Y",
        "report_nm": "분기보고서 (2019.03)",
        "rcept_no": f"2019051500{n:04d}",
        "flr_nm": "삼성전자",
        "rcept_dt": "20190515",
        "rm": "",
        **extra,
    }


def _corp_code_zip(count: int) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<result>"]
    for n in range(count):
        stock = f"{n:06d}" if n % 3 == 0 else " "  # most entries are unlisted: a blank stock code
        lines.append(
            f"<list><corp_code>{10_000_000 + n:08d}</corp_code><corp_name>회사{n}</corp_name>"
            f"<corp_eng_name>Company {n}</corp_eng_name><stock_code>{stock}</stock_code>"
            f"<modify_date>20240{1 + n % 9}15</modify_date></list>"
        )
    lines.append("</result>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("CORPCODE.xml", "\n".join(lines))
    return buffer.getvalue()


# -- key accounts ----------------------------------------------------------------------------------


def test_key_accounts_comma_amounts_cfs_preferred(dart):
    dart.queue("fnlttSinglAcnt.json", SAMSUNG_2018)
    figures = client(dart).period_figures("00126380", 2018, "11011")
    assert figures is not None
    assert (figures.fiscal_year, figures.period, figures.fs_div) == (2018, "FY", "CFS")
    assert (figures.revenue, figures.operating_profit, figures.net_income) == (
        243_771_415_000_000,
        58_886_669_000_000,
        44_344_857_000_000,
    )
    assert (figures.receipt_no, figures.currency, figures.source) == ("20190401004781", "KRW", "dart")
    assert dart.calls("fnlttSinglAcnt.json") == [
        {"crtfc_key": KEY, "corp_code": "00126380", "bsns_year": "2018", "reprt_code": "11011"}
    ]


def test_ofs_is_the_fallback_and_dash_or_empty_amounts_are_unknown(dart):
    # No consolidated income statement with a value (only '-' and a balance sheet): the separate one is used.
    rows = [
        _row("CFS", "BS", "자산총계", "1,000"),
        _row("CFS", "IS", "매출액", "-"),
        _row("OFS", "IS", "매출액", "-"),
        _row("OFS", "IS", "영업이익(손실)", "-1,234,000"),
        _row("OFS", "IS", "당기순이익(손실)", ""),
    ]
    dart.queue("fnlttSinglAcnt.json", {"status": "000", "message": "정상", "list": rows})
    figures = client(dart).period_figures("00126380", 2018, "11011")
    assert figures is not None and figures.fs_div == "OFS"
    assert (figures.revenue, figures.operating_profit, figures.net_income) == (None, -1_234_000, None)


def test_quarters_use_the_quarter_not_the_cumulative_amount(dart):
    half = [
        _row("CFS", "IS", "매출액", "52,000", reprt_code="11012", thstrm_add_amount="100,000"),
        _row("CFS", "IS", "영업이익", "5,000", reprt_code="11012", thstrm_add_amount="9,000"),
    ]
    first = [_row("OFS", "IS", "매출액", "", reprt_code="11013", thstrm_add_amount="48,000")]
    dart.queue("fnlttSinglAcnt.json", {"status": "000", "message": "정상", "list": half})
    dart.queue("fnlttSinglAcnt.json", {"status": "000", "message": "정상", "list": first})
    dart_client = client(dart)
    q2 = dart_client.period_figures("00126380", 2018, "11012")
    q1 = dart_client.period_figures("00126380", 2018, "11013")
    assert q2 is not None and (q2.period, q2.revenue, q2.operating_profit, q2.net_income) == ("Q2", 52_000, 5_000, None)
    # In a first-quarter report the cumulative figure is the same three months.
    assert q1 is not None and (q1.period, q1.fs_div, q1.revenue) == ("Q1", "OFS", 48_000)


def test_013_is_an_empty_answer_not_an_error(dart):
    dart.queue("fnlttSinglAcnt.json", NO_DATA)
    dart.queue("list.json", NO_DATA)
    dart_client = client(dart)
    assert dart_client.period_figures("00126380", 2031, "11011") is None
    assert list(dart_client.filings(begin=date(2031, 1, 1), end=date(2031, 1, 2), corp_code="00126380")) == []
    assert dart_client.calls == 2


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("020", DartQuotaExceeded),
        ("010", DartAuthError),
        ("011", DartAuthError),
        ("012", DartAuthError),
        ("901", DartAuthError),
        ("800", DartMaintenance),
        ("100", DartRequestError),
        ("021", DartRequestError),
    ],
)
def test_status_codes_are_clear_errors_and_never_retried(dart, code, error):
    message = {"020": "요청 제한을 초과하였습니다.", "010": "등록되지 않은 키입니다."}.get(code, "오류")
    dart.queue("fnlttSinglAcnt.json", {"status": code, "message": message})
    dart.queue("fnlttSinglAcnt.json", SAMSUNG_2018)  # would be answered to a retry
    with pytest.raises(error) as raised:
        client(dart).period_figures("00126380", 2018, "11011")
    assert raised.value.code == code and message in str(raised.value)
    assert len(dart.calls("fnlttSinglAcnt.json")) == 1


def test_transient_failures_are_retried(dart):
    dart.queue("fnlttSinglAcnt.json", b"<html>Service Unavailable</html>", status=503)
    dart.queue("fnlttSinglAcnt.json", {"status": "900", "message": "정의되지 않은 오류가 발생하였습니다."})
    dart.queue("fnlttSinglAcnt.json", SAMSUNG_2018)
    figures = client(dart).period_figures("00126380", 2018, "11011")
    assert figures is not None and figures.revenue == 243_771_415_000_000
    assert len(dart.calls("fnlttSinglAcnt.json")) == 3


def test_retries_give_up_after_max_attempts(dart):
    for _ in range(3):
        dart.queue("fnlttSinglAcnt.json", b"", status=502)
    with pytest.raises(DartUnavailable):
        client(dart, max_attempts=2).period_figures("00126380", 2018, "11011")
    assert len(dart.calls("fnlttSinglAcnt.json")) == 2


def test_malformed_answers_are_protocol_errors(dart):
    dart.queue("fnlttSinglAcnt.json", b"not json")
    dart.queue(
        "fnlttSinglAcnt.json", {"status": "000", "message": "정상", "list": [_row("CFS", "IS", "매출액", "12억")]}
    )
    dart_client = client(dart)
    with pytest.raises(DartProtocolError):
        dart_client.period_figures("00126380", 2018, "11011")
    with pytest.raises(DartProtocolError):
        dart_client.period_figures("00126380", 2018, "11011")


def test_the_key_never_appears_in_errors_or_repr():
    port = free_port()  # nothing listens there
    dart_client = DartClient(f"http://127.0.0.1:{port}/api", KEY, max_attempts=1)
    with pytest.raises(DartUnavailable) as raised:
        dart_client.period_figures("00126380", 2018, "11011")
    assert KEY not in str(raised.value) and KEY not in repr(raised.value.__cause__) and KEY not in repr(dart_client)
    with pytest.raises(DartAuthError):
        DartClient("http://127.0.0.1:1/api", "")


# -- list.json -------------------------------------------------------------------------------------


def test_filings_follow_pages_and_link_to_dart(dart):
    dart.queue(
        "list.json",
        {
            "status": "000",
            "message": "정상",
            "page_no": 1,
            "page_count": 2,
            "total_count": 3,
            "total_page": 2,
            "list": [_filing(1, report_nm="단일판매ㆍ공급계약체결              "), _filing(2, rm="유")],
        },
    )
    dart.queue(
        "list.json",
        {
            "status": "000",
            "message": "정상",
            "page_no": 2,
            "page_count": 2,
            "total_count": 3,
            "total_page": 2,
            "list": [_filing(3, report_nm="[기재정정]사업보고서 (2018.12)")],
        },
    )
    filings = list(client(dart).filings(begin=date(2019, 5, 1), end=date(2019, 5, 31), corp_code="00126380", kind="A"))
    assert [f.receipt_no for f in filings] == ["20190515000001", "20190515000002", "20190515000003"]
    first, second, third = filings
    assert first.title == "단일판매ㆍ공급계약체결" and first.report_type == "other"  # DART pads some titles
    assert (second.remark, second.report_type, second.filed_on) == ("유", "quarterly", date(2019, 5, 15))
    assert third.report_type == "annual" and third.source == "dart"
    assert third.url == "https://dart.fss.or.kr/dsaf001/main.do?rcpNo=20190515000003"
    sent = dart.calls("list.json")
    assert [q["page_no"] for q in sent] == ["1", "2"]
    assert sent[0] | {"page_no": "1"} == {
        "crtfc_key": KEY,
        "corp_code": "00126380",
        "bgn_de": "20190501",
        "end_de": "20190531",
        "pblntf_ty": "A",
        "page_no": "1",
        "page_count": "100",
    }


def test_a_filing_without_its_receipt_number_is_a_protocol_error(dart):
    broken = _filing(1)
    del broken["rcept_no"]
    dart.queue(
        "list.json",
        {
            "status": "000",
            "message": "정상",
            "page_no": 1,
            "page_count": 10,
            "total_count": 1,
            "total_page": 1,
            "list": [broken],
        },
    )
    with pytest.raises(DartProtocolError, match="rcept_no"):
        list(client(dart).filings(begin=date(2019, 5, 1), end=date(2019, 5, 31)))


def test_the_simulated_header_marks_results_simulated(dart):
    dart.queue(
        "list.json",
        {
            "status": "000",
            "message": "정상",
            "page_no": 1,
            "page_count": 10,
            "total_count": 1,
            "total_page": 1,
            "list": [_filing(1)],
        },
        headers={"X-Kstock-Source": "simulated"},
    )
    dart.queue("fnlttSinglAcnt.json", SAMSUNG_2018, headers={"X-Kstock-Source": "simulated"})
    dart_client = client(dart)
    assert [f.source for f in dart_client.filings(begin=date(2019, 5, 1), end=date(2019, 5, 31))] == ["simulated"]
    figures = dart_client.period_figures("00126380", 2018, "11011")
    assert figures is not None and figures.source == "simulated"


# -- corpCode.xml ----------------------------------------------------------------------------------


def test_corp_codes_from_a_zip_of_3000(dart):
    dart.queue("corpCode.xml", _corp_code_zip(3000), headers={"Content-Type": "application/x-msdownload"})
    codes, source = client(dart).corp_codes()
    assert source == "dart"
    assert len(codes) == 1000  # every third entry is listed; blank stock codes are skipped
    by_stock = {c.stock_code: c for c in codes}
    assert by_stock["000003"].corp_code == "10000003" and by_stock["000003"].corp_name == "회사3"
    assert by_stock["000003"].modify_date == date(2024, 4, 15)
    assert dart.calls("corpCode.xml") == [{"crtfc_key": KEY}]


def test_corp_code_errors_come_as_xml(dart):
    dart.queue(
        "corpCode.xml",
        '<?xml version="1.0" encoding="UTF-8"?><result><status>010</status>'
        "<message>등록되지 않은 키입니다.</message></result>".encode(),
        headers={"Content-Type": "application/xml"},
    )
    dart.queue("corpCode.xml", b"PK\x03\x04 broken")
    dart_client = client(dart)
    with pytest.raises(DartAuthError, match="등록되지 않은 키"):
        dart_client.corp_codes()
    with pytest.raises(DartProtocolError):
        dart_client.corp_codes()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("243,771,415,000,000", 243_771_415_000_000),
        ("-1,234", -1234),
        ("0", 0),
        ("-", None),
        ("", None),
        (" ", None),
        (None, None),
        ("1,234.0", 1234),
    ],
)
def test_parse_amount(text, value):
    assert parse_amount(text) == value
