"""The stock master files KIS publishes (``kospi_code.mst``, ``kosdaq_code.mst``): layout and parser.

One record per line (``\\n``), cp949, fixed width in bytes:

* part 1: the short code (9 bytes, ``005930`` or ``Q500001`` padded with spaces), the standard code
  (ISIN, 12 bytes) and the Korean short name (40 bytes, padded);
* part 2: the attributes, 227 bytes in the KOSPI file and 221 in the KOSDAQ file (228 and 222
  counted with the line's newline, as the official samples slice them from the right end).

The layouts below follow KIS's published structures (``koreainvestment/open-trading-api``:
``stocks_info/종목마스터정보(코스피).h`` and ``(코스닥).h``, and the pandas widths of
``stocks_info/kis_kospi_code_mst.py`` / ``kis_kosdaq_code_mst.py``). Checked against real files:
records are 288 / 282 bytes; 삼성전자's listed shares read ``5969782`` (the file counts thousands,
floored) in both layouts, and ETNs carry group ``EN``, which the header's list does not name.

Part 2 is read from the right end, as the official samples do, so a name field of another width
would not shift the attributes. Every attribute is ASCII; a record whose attributes are not, or whose
flags are not ``Y``/``N``, is a :class:`MasterFormatError` (the file is refused, never half-applied).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from kstock.listings.errors import MasterFormatError

Market = Literal["KOSPI", "KOSDAQ"]
ENCODING = "cp949"
SHORT_CODE_BYTES = 9
STANDARD_CODE_BYTES = 12
NAME_BYTES = 40
HEAD_BYTES = SHORT_CODE_BYTES + STANDARD_CODE_BYTES + NAME_BYTES
SHARES_UNIT = 1_000  # 상장주수 is in thousands (both layouts)
CAP_UNIT = 100_000_000  # 전일기준 시가총액 is in 억원 (100 million won)


class Kind(StrEnum):
    """What kstock stores in ``companies.kind``; OTHER is not stored (funds, warrants, rights)."""

    STOCK = "STOCK"
    ETF = "ETF"
    ETN = "ETN"
    ELW = "ELW"
    OTHER = "OTHER"


# 증권그룹구분코드 (security group). Shares of every sort trade as stocks: common and preferred
# shares (ST), investment companies (MF), REITs (RT), ship funds (SC), infrastructure funds (IF),
# depositary receipts (DR) and foreign shares (FS). Beneficiary certificates (BC), warrants (SW)
# and subscription rights (SR) are not companies and stay out.
GROUP_KINDS: Mapping[str, Kind] = {
    "ST": Kind.STOCK,
    "MF": Kind.STOCK,
    "RT": Kind.STOCK,
    "SC": Kind.STOCK,
    "IF": Kind.STOCK,
    "DR": Kind.STOCK,
    "FS": Kind.STOCK,
    "EF": Kind.ETF,
    "FE": Kind.ETF,  # 해외ETF
    "EN": Kind.ETN,
    "EW": Kind.ELW,
    "BC": Kind.OTHER,
    "SW": Kind.OTHER,
    "SR": Kind.OTHER,
}


class MarketWarning(StrEnum):
    """시장경고구분코드: 00 none, 01 투자주의 (caution), 02 투자경고 (warning), 03 투자위험 (risk)."""

    NONE = "none"
    CAUTION = "caution"
    WARNING = "warning"
    RISK = "risk"


_WARNING_CODES = {
    "00": MarketWarning.NONE,
    "01": MarketWarning.CAUTION,
    "02": MarketWarning.WARNING,
    "03": MarketWarning.RISK,
}
WARNING_CODE = {warning: code for code, warning in _WARNING_CODES.items()}

# Fields shared by both layouts from 주식 기준가 (base price) to the end, in order.
_TAIL: tuple[tuple[str, int], ...] = (
    ("base_price", 9),
    ("lot", 5),
    ("after_hours_lot", 5),
    ("halted", 1),  # 거래정지
    ("liquidating", 1),  # 정리매매
    ("administrative", 1),  # 관리종목
    ("warning", 2),  # 시장경고구분코드
    ("warning_notice", 1),  # 시장경고위험예고
    ("unfaithful_disclosure", 1),
    ("backdoor_listing", 1),
    ("ex_rights", 2),
    ("par_change", 2),
    ("capital_increase", 2),
    ("margin_rate", 3),
    ("credit", 1),
    ("credit_days", 3),
    ("prev_volume", 12),
    ("par_value", 12),
    ("listed_on", 8),
    ("listed_shares", 15),  # thousands
    ("capital", 21),
    ("fiscal_month", 2),
    ("ipo_price", 7),
    ("preferred", 1),  # 0 common, 1 old-style, 2 new-style preferred
    ("short_sale_overheat", 1),
    ("abnormal_surge", 1),
    ("krx300", 1),
)
_FINANCIALS: tuple[tuple[str, int], ...] = (
    ("sales", 9),
    ("operating_profit", 9),
    ("ordinary_profit", 9),
    ("net_income", 5),
    ("roe", 9),
    ("base_date", 8),
    ("market_cap", 9),  # 억원, previous day
    ("group_company", 3),
    ("credit_limit_over", 1),
    ("collateral_loan", 1),
    ("stock_lending", 1),
)
_INDEX_CODES: tuple[tuple[str, int], ...] = (
    ("group", 2),  # 증권그룹구분코드
    ("cap_scale", 1),
    ("index_large", 4),
    ("index_medium", 4),
    ("index_small", 4),
)
_SECTOR_FLAGS: tuple[tuple[str, int], ...] = (
    ("krx100", 1),
    ("krx_auto", 1),
    ("krx_semiconductor", 1),
    ("krx_bio", 1),
    ("krx_bank", 1),
    ("spac", 1),
    ("krx_energy_chemical", 1),
    ("krx_steel", 1),
    ("short_term_overheat", 1),
    ("krx_media_telecom", 1),
    ("krx_construction", 1),
)

KOSPI_FIELDS: tuple[tuple[str, int], ...] = (
    *_INDEX_CODES,
    ("manufacturing", 1),
    ("low_liquidity", 1),
    ("governance_index", 1),
    ("kospi200_sector", 1),
    ("kospi100", 1),
    ("kospi50", 1),
    ("krx", 1),
    ("etp", 1),
    ("elw_issued", 1),
    *_SECTOR_FLAGS,
    ("retired", 1),  # KRX 금융서비스, deleted 2015-12-18; the byte stays
    ("krx_securities", 1),
    ("krx_ship", 1),
    ("krx_insurance", 1),
    ("krx_transport", 1),
    ("sri", 1),
    *_TAIL,
    ("kospi", 1),
    *_FINANCIALS,
)
KOSDAQ_FIELDS: tuple[tuple[str, int], ...] = (
    *_INDEX_CODES,
    ("venture", 1),
    ("low_liquidity", 1),
    ("krx", 1),
    ("etp", 1),
    *_SECTOR_FLAGS,
    ("caution_reminder", 1),  # 투자주의환기종목 (KOSDAQ only)
    ("krx_securities", 1),
    ("krx_ship", 1),
    ("krx_insurance", 1),
    ("krx_transport", 1),
    ("kosdaq150", 1),
    *_TAIL,
    *_FINANCIALS,
)


@dataclass(frozen=True)
class Layout:
    """One file's layout: where each named attribute of part 2 sits, bound once at import time."""

    market: Market
    file_name: str
    fields: tuple[tuple[str, int], ...]

    @property
    def width(self) -> int:
        return sum(width for _, width in self.fields)

    @property
    def slices(self) -> dict[str, slice]:
        return _SLICES[self.market]

    def blank(self) -> bytearray:
        """A part 2 of spaces, to fill with :meth:`put` (the simulator's writer and tests)."""
        return bytearray(b" " * self.width)

    def put(self, part2: bytearray, name: str, value: str) -> None:
        """Write ``value`` into the named field: numbers right-aligned with zeros, text left-aligned."""
        where = self.slices[name]
        width = where.stop - where.start
        text = value.rjust(width, "0") if value.isdigit() else value.ljust(width)
        if len(text) != width or not text.isascii():
            raise ValueError(f"{name}: {value!r} does not fit {width} ASCII bytes")
        part2[where] = text.encode("ascii")

    def record(self, short_code: str, standard_code: str, name: str, part2: bytes | bytearray) -> bytes:
        """One record (no newline): the three part-1 fields padded to their widths, then part 2."""
        head = (
            short_code.encode("ascii").ljust(SHORT_CODE_BYTES)
            + standard_code.encode("ascii").ljust(STANDARD_CODE_BYTES)
            + name.encode(ENCODING).ljust(NAME_BYTES)
        )
        if len(head) != HEAD_BYTES or len(part2) != self.width:
            raise ValueError(f"{short_code}: a field is wider than the layout allows")
        return head + bytes(part2)


def _slices(fields: tuple[tuple[str, int], ...]) -> dict[str, slice]:
    out, at = {}, 0
    for name, width in fields:
        out[name] = slice(at, at + width)
        at += width
    return out


_SLICES: dict[Market, dict[str, slice]] = {"KOSPI": _slices(KOSPI_FIELDS), "KOSDAQ": _slices(KOSDAQ_FIELDS)}
KOSPI = Layout("KOSPI", "kospi_code.mst", KOSPI_FIELDS)
KOSDAQ = Layout("KOSDAQ", "kosdaq_code.mst", KOSDAQ_FIELDS)
LAYOUTS: dict[Market, Layout] = {"KOSPI": KOSPI, "KOSDAQ": KOSDAQ}
assert KOSPI.width == 227 and KOSDAQ.width == 221, "the published layouts: 227 / 221 bytes of attributes"


@dataclass(frozen=True, slots=True)
class MasterRecord:
    """One instrument of a master file, typed."""

    short_code: str
    standard_code: str  # ISIN
    name: str
    market: Market
    group: str  # 증권그룹구분코드 as written (ST, EF, EN, EW, ...)
    kind: Kind
    halted: bool  # 거래정지
    liquidating: bool  # 정리매매 (the last days before delisting)
    administrative: bool  # 관리종목
    warning: MarketWarning  # 시장경고
    warning_notice: bool  # 시장경고위험예고 (a warning is announced)
    caution_reminder: bool  # 투자주의환기종목 (KOSDAQ only; False in KOSPI records)
    listed_shares: int  # shares (the file's thousands times 1,000)
    listed_on: date | None
    base_price: int | None  # 주식 기준가 (won)
    market_cap: int | None  # won (the file's previous-day 억원)
    spac: bool
    preferred: bool

    @property
    def flagged(self) -> bool:
        """The exchange marks it risky: 관리종목, any 시장경고, 정리매매 or 투자주의환기.

        This is what ``companies.is_warning`` stores, and what the watchlist's safety filter avoids;
        the single designations are kept beside it (``is_administrative``, ``market_warning``)."""
        return (
            self.administrative or self.warning is not MarketWarning.NONE or self.liquidating or self.caution_reminder
        )


def _text(part2: str, where: slice) -> str:
    return part2[where].strip()


def _flag(code: str, name: str, value: str) -> bool:
    if value in ("Y", "N", ""):
        return value == "Y"
    raise MasterFormatError(f"{code}: {name} is {value!r}, not Y or N")


def _number(code: str, name: str, value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise MasterFormatError(f"{code}: {name} is {value!r}, not a number")
    return int(value)


def _day(code: str, value: str) -> date | None:
    if not value or value.strip("0") == "":
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise MasterFormatError(f"{code}: listing date {value!r} is not YYYYMMDD") from None


def parse_record(record: bytes, market: Market) -> MasterRecord:
    """One record (without its line terminator) of the named market's file."""
    layout = LAYOUTS[market]
    if len(record) < SHORT_CODE_BYTES + STANDARD_CODE_BYTES + layout.width:
        raise MasterFormatError(f"{market} record of {len(record)} bytes: {record[:21]!r}")
    head, tail = record[: -layout.width], record[-layout.width :]
    code = head[:SHORT_CODE_BYTES].decode("ascii", errors="replace").strip()
    try:
        part2 = tail.decode("ascii")
        name = head[SHORT_CODE_BYTES + STANDARD_CODE_BYTES :].decode(ENCODING).strip()
    except UnicodeDecodeError as exc:
        raise MasterFormatError(f"{code}: {exc.reason} at byte {exc.start}") from None
    s = layout.slices

    def field(field_name: str) -> str:
        return _text(part2, s[field_name])

    group = field("group")
    warning = _WARNING_CODES.get(field("warning") or "00")
    if warning is None:
        raise MasterFormatError(f"{code}: market warning code {field('warning')!r}")
    shares = _number(code, "listed_shares", field("listed_shares")) or 0
    cap = _number(code, "market_cap", field("market_cap"))
    return MasterRecord(
        short_code=code,
        standard_code=head[SHORT_CODE_BYTES : SHORT_CODE_BYTES + STANDARD_CODE_BYTES].decode("ascii").strip(),
        name=name,
        market=market,
        group=group,
        kind=GROUP_KINDS.get(group, Kind.OTHER),
        halted=_flag(code, "halted", field("halted")),
        liquidating=_flag(code, "liquidating", field("liquidating")),
        administrative=_flag(code, "administrative", field("administrative")),
        warning=warning,
        warning_notice=_flag(code, "warning_notice", field("warning_notice")),
        caution_reminder=market == "KOSDAQ" and _flag(code, "caution_reminder", field("caution_reminder")),
        listed_shares=shares * SHARES_UNIT,
        listed_on=_day(code, field("listed_on")),
        base_price=_number(code, "base_price", field("base_price")),
        market_cap=cap * CAP_UNIT if cap else None,
        spac=_flag(code, "spac", field("spac")),
        preferred=field("preferred") not in ("", "0"),
    )


def records(data: bytes) -> Iterator[bytes]:
    """The records of a file: one per line, blank lines and a trailing newline skipped."""
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        if line.strip():
            yield line


def parse_master(data: bytes, market: Market) -> list[MasterRecord]:
    """Every record of one file (``kospi_code.mst`` for KOSPI, ``kosdaq_code.mst`` for KOSDAQ)."""
    return [parse_record(line, market) for line in records(data)]
