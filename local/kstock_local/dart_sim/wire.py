"""The stand-in's answers in OpenDART's wire format: the corp-code zip, list.json and fnlttSinglAcnt.json.

Shapes follow captured answers of the real API: status/message envelopes, YYYYMMDD dates, amounts
as strings with thousands separators, both statements (CFS then OFS) in one key-accounts list,
balance-sheet rows beside the income statement, and the cumulative ``thstrm_add_amount`` only in
quarterly answers.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from kstock.dart.models import ANNUAL, FIRST_QUARTER, HALF, THIRD_QUARTER
from kstock_local.dart_sim.content import SIM_LABEL, CorpEntry, DartContent, Figures, SimFiling

MESSAGES = {
    "000": "정상",
    "010": "등록되지 않은 키입니다.",
    "013": "조회된 데이타가 없습니다.",
    "020": "요청 제한을 초과하였습니다.",
    "100": "필드의 부적절한 값입니다. 필드 설명에 없는 값을 사용한 경우에 발생하는 메시지입니다.",
    "800": "시스템 점검으로 인한 서비스가 중지 중입니다.",
}
_CORP_CLS = {"KOSPI": "Y", "KOSDAQ": "K", "KONEX": "N"}
_REMARK = {"KOSPI": "유", "KOSDAQ": "코", "KONEX": "넥"}  # rm: the exchange division in charge
_QUARTER_NAMES = {FIRST_QUARTER: "1분기", HALF: "반기", THIRD_QUARTER: "3분기"}
_QUARTER_MONTHS = {FIRST_QUARTER: ("01.01", "03.31"), HALF: ("04.01", "06.30"), THIRD_QUARTER: ("07.01", "09.30")}
_QUARTER_INDEX = {FIRST_QUARTER: 0, HALF: 1, THIRD_QUARTER: 2}


def status(code: str) -> dict[str, str]:
    return {"status": code, "message": MESSAGES[code]}


def status_xml(code: str) -> bytes:
    """corpCode.xml answers errors as XML instead of the zip."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<result><status>{code}</status>'
        f"<message>{escape(MESSAGES[code])}</message></result>"
    ).encode()


# -- corpCode.xml ------------------------------------------------------------------------------


def corp_code_zip(corps: list[CorpEntry]) -> bytes:
    """A zip holding CORPCODE.xml, one <list> per entry (unlisted ones with a blank stock code)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<result>"]
    for corp in corps:
        lines.append(
            f"<list><corp_code>{corp.corp_code}</corp_code><corp_name>{escape(corp.corp_name)}</corp_name>"
            f"<corp_eng_name>{escape(corp.corp_name)} Co., Ltd.</corp_eng_name>"
            f"<stock_code>{corp.stock_code or ' '}</stock_code>"
            f"<modify_date>{corp.modify_date:%Y%m%d}</modify_date></list>"
        )
    lines.append("</result>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("CORPCODE.xml", "\n".join(lines).encode())
    return buffer.getvalue()


# -- list.json ---------------------------------------------------------------------------------


def filing_row(filing: SimFiling) -> dict[str, str]:
    corp = filing.corp
    market = corp.company.market if corp.company else ""
    return {
        "corp_code": corp.corp_code,
        "corp_name": corp.corp_name,
        "stock_code": corp.stock_code,
        "corp_cls": _CORP_CLS.get(market, "E"),
        "report_nm": filing.title,
        "rcept_no": filing.receipt_no,
        "flr_nm": f"{corp.corp_name} {SIM_LABEL}",
        "rcept_dt": f"{filing.filed_on:%Y%m%d}",
        "rm": _REMARK.get(market, ""),
    }


def filing_page(filings: list[SimFiling], page_no: int, page_count: int) -> dict[str, Any]:
    total = len(filings)
    if total == 0:
        return status("013")
    start = (page_no - 1) * page_count
    return {
        **status("000"),
        "page_no": page_no,
        "page_count": page_count,
        "total_count": total,
        "total_page": -(-total // page_count),
        "list": [filing_row(f) for f in filings[start : start + page_count]],
    }


# -- fnlttSinglAcnt.json -----------------------------------------------------------------------


def _amount(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _term_names(corp: CorpEntry, year: int, reprt_code: str) -> tuple[str, str, str, str]:
    """(this term name, income dates, balance date, previous term name) as DART labels them."""
    term = year - 1968 - int(corp.corp_code[-2:]) % 20  # a seeded founding year
    if reprt_code == ANNUAL:
        return f"제 {term} 기", f"{year}.01.01 ~ {year}.12.31", f"{year}.12.31 현재", f"제 {term - 1} 기"
    first, last = _QUARTER_MONTHS[reprt_code]
    quarter = _QUARTER_NAMES[reprt_code]
    this_term, previous_term = f"제 {term} 기 {quarter}", f"제 {term - 1} 기 {quarter}"
    return this_term, f"{year}.{first} ~ {year}.{last}", f"{year}.{last} 현재", previous_term


def _period(content: DartContent, corp: CorpEntry, year: int, reprt_code: str) -> tuple[Figures, Figures | None]:
    """The period's figures and, for quarters, the cumulative figures of the year so far."""
    if reprt_code == ANNUAL:
        return content.year_figures(corp, year), None
    quarters = content.quarters(corp, year)[: _QUARTER_INDEX[reprt_code] + 1]
    cumulative = Figures(
        sum(q.revenue for q in quarters), sum(q.operating_profit for q in quarters), sum(q.net_income for q in quarters)
    )
    return quarters[-1], cumulative


def key_account_rows(content: DartContent, filing: SimFiling) -> list[dict[str, str]]:
    """Balance-sheet and income-statement rows, CFS first (when the company files it), then OFS."""
    corp, year, code = filing.corp, filing.year, filing.reprt_code
    assert year is not None and code is not None
    now, cumulative = _period(content, corp, year, code)
    before, before_cumulative = _period(content, corp, year - 1, code)
    statements = (["CFS"] if content.files_consolidated(corp) else []) + ["OFS"]
    rows: list[dict[str, str]] = []
    for fs_div in statements:
        share = 1.0 if fs_div == "CFS" else content.separate_share(corp)
        rows += _statement_rows(corp, filing, fs_div, share, (now, cumulative), (before, before_cumulative))
    return rows


Term = tuple[Figures, Figures | None]  # the period's figures and the year's cumulative ones (quarters)


def _statement_rows(
    corp: CorpEntry, filing: SimFiling, fs_div: str, share: float, now: Term, before: Term
) -> list[dict[str, str]]:
    year, code = filing.year or 0, filing.reprt_code or ANNUAL
    term, income_dates, balance_date, previous_term = _term_names(corp, year, code)
    base = {
        "rcept_no": filing.receipt_no,
        "reprt_code": code,
        "bsns_year": str(year),
        "corp_code": corp.corp_code,
        "stock_code": corp.stock_code,
        "fs_div": fs_div,
        "fs_nm": "연결재무제표" if fs_div == "CFS" else "재무제표",
    }
    this, this_cumulative = now[0].scaled(share), now[1].scaled(share) if now[1] else None
    last, last_cumulative = before[0].scaled(share), before[1].scaled(share) if before[1] else None
    assets = int(this.revenue * 1.3 if code == ANNUAL else this.revenue * 5.2) // 1_000_000 * 1_000_000
    rows = []
    for order, (name, value) in enumerate(
        (("자산총계", assets), ("부채총계", int(assets * 0.4)), ("자본총계", assets - int(assets * 0.4))), start=1
    ):
        rows.append(
            {
                **base,
                "sj_div": "BS",
                "sj_nm": "재무상태표",
                "account_nm": name,
                "thstrm_nm": term,
                "thstrm_dt": balance_date,
                "thstrm_amount": _amount(value),
                "ord": str(order * 2),
                "currency": "KRW",
            }
        )
    income = (
        ("매출액", "revenue"),
        ("영업이익", "operating_profit"),
        ("법인세차감전 순이익", "pretax"),
        ("당기순이익", "net_income"),
    )
    for order, (name, field) in enumerate(income, start=10):
        row = {
            **base,
            "sj_div": "IS",
            "sj_nm": "손익계산서",
            "account_nm": name,
            "thstrm_nm": term,
            "thstrm_dt": income_dates,
            "thstrm_amount": _amount(_value(this, field)),
            "frmtrm_nm": previous_term,
            "frmtrm_amount": _amount(_value(last, field)),
            "ord": str(order * 2),
            "currency": "KRW",
        }
        if this_cumulative is not None and last_cumulative is not None:
            row["thstrm_add_amount"] = _amount(_value(this_cumulative, field))
            row["frmtrm_add_amount"] = _amount(_value(last_cumulative, field))
        rows.append(row)
    return rows


def _value(figures: Figures, field: str) -> int:
    if field == "pretax":
        return figures.net_income * 13 // 10 // 1_000_000 * 1_000_000
    value: int = getattr(figures, field)
    return value


def parse_day(text: str | None, default: date) -> date | None:
    """YYYYMMDD request parameter; None when malformed."""
    if not text:
        return default
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 and text.isdigit() else None
    except ValueError:
        return None
