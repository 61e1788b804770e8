"""Key accounts -> period figures: amount strings, account names and the CFS/OFS choice.

fnlttSinglAcnt.json answers both statements in one list: CFS (consolidated) and OFS (separate).
The consolidated figures describe the group investors price, so they win whenever they carry any
of the three accounts; a company without subsidiaries files only OFS, which is then used. Figures
are never mixed across statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from kstock.dart.errors import DartProtocolError
from kstock.dart.models import REPORT_PERIODS, AccountRow, FsDiv, PeriodFigures

# Account names as filers write them (spaces removed before matching). Financial companies report
# 영업수익 instead of 매출액; a loss-making year is labelled 영업이익(손실), 당기순이익(손실) and so on.
_REVENUE = {"매출액", "수익(매출액)", "매출액(수익)", "영업수익", "매출", "수익"}
_OPERATING_PROFIT = {"영업이익", "영업이익(손실)", "영업손익", "영업손실"}
_NET_INCOME = {
    "당기순이익",
    "당기순이익(손실)",
    "당기순손익",
    "당기순손실",
    "분기순이익",
    "분기순이익(손실)",
    "반기순이익",
    "반기순이익(손실)",
}
_INCOME_STATEMENTS = {"IS", "CIS", ""}
_PREFERENCE: tuple[FsDiv, ...] = ("CFS", "OFS")


def parse_amount(text: str | None) -> int | None:
    """'243,771,415,000,000' -> 243771415000000; '-1,234' -> -1234; '', '-' and None -> None."""
    cleaned = (text or "").strip().replace(",", "")
    if cleaned in ("", "-"):
        return None
    try:
        return int(Decimal(cleaned))
    except InvalidOperation as exc:
        raise DartProtocolError(f"not an amount: {cleaned[:24]!r}") from exc


def _period_amount(row: AccountRow) -> int | None:
    """The period's own figure; a first quarter's cumulative figure is the same three months."""
    amount = parse_amount(row.amount)
    if amount is None and REPORT_PERIODS.get(row.reprt_code) == "Q1":
        amount = parse_amount(row.cumulative_amount)
    return amount


def _pick(rows: list[AccountRow], names: set[str]) -> int | None:
    for row in rows:
        if row.account_name.replace(" ", "") in names:
            value = _period_amount(row)
            if value is not None:
                return value
    return None


def key_figures(rows: Iterable[AccountRow], *, source: str) -> PeriodFigures | None:
    """The period's revenue, operating profit and net income, CFS preferred; None when neither has any."""
    by_statement: dict[str, list[AccountRow]] = {}
    for row in rows:
        if row.statement in _INCOME_STATEMENTS:
            by_statement.setdefault(row.fs_div, []).append(row)
    for fs_div in _PREFERENCE:
        chosen = by_statement.get(fs_div, [])
        revenue = _pick(chosen, _REVENUE)
        operating_profit = _pick(chosen, _OPERATING_PROFIT)
        net_income = _pick(chosen, _NET_INCOME)
        if revenue is None and operating_profit is None and net_income is None:
            continue
        first = chosen[0]
        period = REPORT_PERIODS.get(first.reprt_code)
        if period is None:
            raise DartProtocolError(f"unknown reprt_code {first.reprt_code!r}")
        try:
            year = int(first.fiscal_year)
        except ValueError as exc:
            raise DartProtocolError(f"bsns_year is not a year: {first.fiscal_year!r}") from exc
        return PeriodFigures(
            corp_code=first.corp_code,
            fiscal_year=year,
            period=period,
            fs_div=fs_div,
            revenue=revenue,
            operating_profit=operating_profit,
            net_income=net_income,
            receipt_no=first.receipt_no or None,
            currency=first.currency or "KRW",
            source=source,
        )
    return None
