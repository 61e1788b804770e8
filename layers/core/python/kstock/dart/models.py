"""OpenDART answers as typed values: corp codes, filings, key-account rows and period figures.

Wire names are declared once, as aliases; everything past this module uses kstock's names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DART_VIEWER_URL = "https://dart.fss.or.kr/dsaf001/main.do?rcpNo={receipt_no}"

Period = Literal["FY", "Q1", "Q2", "Q3"]
FsDiv = Literal["CFS", "OFS"]

# reprt_code -> period. The half-year report's key accounts give the second quarter's own three
# months as thstrm_amount (the half's cumulative figure is thstrm_add_amount), so 11012 is Q2.
ANNUAL, HALF, FIRST_QUARTER, THIRD_QUARTER = "11011", "11012", "11013", "11014"
REPORT_PERIODS: dict[str, Period] = {FIRST_QUARTER: "Q1", HALF: "Q2", THIRD_QUARTER: "Q3", ANNUAL: "FY"}
ALL_REPORT_CODES: tuple[str, ...] = (FIRST_QUARTER, HALF, THIRD_QUARTER, ANNUAL)

SIMULATED = "simulated"
DART = "dart"


def parse_dart_date(value: Any) -> date | None:
    """DART dates are YYYYMMDD strings; blank means unknown."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError as exc:
        raise ValueError(f"not a YYYYMMDD date: {text[:12]!r}") from exc


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore", str_strip_whitespace=True)


class CorpCode(_Wire):
    """One <list> of CORPCODE.xml that has a stock code (a listed company)."""

    corp_code: str = Field(pattern=r"^\d{8}$")
    corp_name: str
    stock_code: str = Field(pattern=r"^[0-9A-Z]{6}$")
    modify_date: date | None = None

    @field_validator("modify_date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> date | None:
        return parse_dart_date(value)


class Filing(_Wire):
    """One row of list.json (공시검색)."""

    receipt_no: str = Field(alias="rcept_no", pattern=r"^\d{14}$")
    title: str = Field(alias="report_nm")
    filed_on: date = Field(alias="rcept_dt")
    filer_name: str = Field("", alias="flr_nm")
    corp_code: str
    corp_name: str = ""
    stock_code: str = ""
    corp_cls: str = ""  # Y KOSPI, K KOSDAQ, N KONEX, E other
    remark: str = Field("", alias="rm")
    source: str = DART  # set by the client: dart, or simulated for the stand-in

    @field_validator("filed_on", mode="before")
    @classmethod
    def _date(cls, value: Any) -> date:
        parsed = parse_dart_date(value)
        if parsed is None:
            raise ValueError("rcept_dt is blank")
        return parsed

    @property
    def url(self) -> str:
        return DART_VIEWER_URL.format(receipt_no=self.receipt_no)

    @property
    def report_type(self) -> str:
        """annual / half / quarterly (also when corrected: [기재정정]...), major_event, else other."""
        if "사업보고서" in self.title:
            return "annual"
        if "반기보고서" in self.title:
            return "half"
        if "분기보고서" in self.title:
            return "quarterly"
        if "주요사항보고서" in self.title:
            return "major_event"
        return "other"


class FilingPage(_Wire):
    """One page of list.json: its filings and the paging DART reports."""

    filings: list[Filing]
    page_no: int
    total_page: int
    total_count: int


class AccountRow(_Wire):
    """One row of fnlttSinglAcnt.json (단일회사 주요계정); amounts stay strings here."""

    receipt_no: str = Field("", alias="rcept_no")
    fiscal_year: str = Field(alias="bsns_year")
    corp_code: str = ""
    reprt_code: str
    account_name: str = Field(alias="account_nm")
    fs_div: str
    statement: str = Field("", alias="sj_div")  # BS balance sheet, IS income statement
    amount: str | None = Field(None, alias="thstrm_amount")
    cumulative_amount: str | None = Field(None, alias="thstrm_add_amount")
    currency: str = "KRW"


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """Revenue, operating profit and net income of one company for one period, from one statement."""

    corp_code: str
    fiscal_year: int
    period: Period
    fs_div: FsDiv
    revenue: int | None
    operating_profit: int | None
    net_income: int | None
    receipt_no: str | None
    currency: str
    source: str
