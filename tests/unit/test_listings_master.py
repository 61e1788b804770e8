"""The KIS stock master parser: records typed by hand from the published layout, and the simulator's."""

from __future__ import annotations

from datetime import date

import pytest

from kstock.listings.errors import MasterFormatError
from kstock.listings.master import (
    KOSDAQ,
    KOSPI,
    Kind,
    MarketWarning,
    parse_master,
    parse_record,
)
from kstock_local.kis_sim.market import Market
from kstock_local.kis_sim.master import Designation, fit_name, isin, master_file


def head(code: str, standard: str, name: str) -> bytes:
    """Part 1 as KIS writes it: short code in 9 bytes, ISIN in 12, the cp949 name in 40."""
    return code.encode().ljust(9) + standard.encode() + name.encode("cp949").ljust(40)


def kospi_part2(
    *,
    group: str = "ST",
    halted: str = "N",
    liquidating: str = "N",
    administrative: str = "N",
    warning: str = "00",
    shares_thousands: str = "000000005969782",
    listed_on: str = "19750611",
    base_price: str = "000061300",
    cap_100m: str = "003659476",
) -> str:
    """The 227 bytes of a KOSPI record, field by field in the order of KIS's 종목마스터정보(코스피).h."""
    fields = [
        group, "1", "0027", "0013", "0000",  # group, cap scale, index sector large/medium/small
        "Y", "N", "N", "5", "Y", "Y", "Y", " ", "Y", "Y",  # manufacturing .. KRX100
        "N", "N", "N", "N", "N", "N", "N", "0", "N", "N",  # KRX auto .. KRX construction
        "N", "N", "N", "N", "N", "Y",  # retired byte, KRX securities, ship, insurance, transport, SRI
        base_price, "00001", "00001",  # base price, lot, after-hours lot
        halted, liquidating, administrative, warning, "N", "N", "N",  # .. warning notice, disclosure, backdoor
        "00", "00", "00", "020", "Y", "090",  # ex-rights, par change, capital increase, margin, credit
        "000022517076", "000000000100", listed_on, shares_thousands,  # prev volume, par value, date, shares
        "000000000778046685000", "12", "       ", "0", " ", "N", "Y", "Y",  # capital .. KRX300, KOSPI
        "003022314", "000433766", "000435336", "39243", "000017.07", "20221231",  # financials, base date
        cap_100m, "511", "N", "N", "N",  # market cap (억), group company, three credit flags
    ]  # fmt: skip
    text = "".join(fields)
    assert len(text) == 227
    return text


def kosdaq_part2(*, caution_reminder: str = "N", warning: str = "00", shares_thousands: str = "000000000097801") -> str:
    """The 221 bytes of a KOSDAQ record, in the order of 종목마스터정보(코스닥).h."""
    fields = [
        "ST", "1", "1012", "0027", "0000",  # group, cap scale, index sector large/medium/small
        "N", "N", "Y", " ", "N",  # venture, low liquidity, KRX, ETP, KRX100
        "N", "N", "N", "N", "N", "N", "N", "0", "N", "N",  # KRX auto .. KRX construction
        caution_reminder, "N", "N", "N", "N", "Y",  # 투자주의환기, KRX securities .. KOSDAQ150
        "000200000", "00001", "00001",  # base price, lot, after-hours lot
        "N", "N", "N", warning, "N", "N", "N",  # halted, liquidating, administrative, warning, ...
        "00", "00", "00", "040", "Y", "090",
        "000000574712", "000000000500", "20190305", shares_thousands,
        "000000000048900672000", "12", "       ", "0", " ", "N", "Y",  # capital .. KRX300
        "005357000", "000381000", "000279000", "01521", "000011.02", "20221231",
        "000195602", "   ", "N", "N", "N",
    ]  # fmt: skip
    text = "".join(fields)
    assert len(text) == 221
    return text


def test_a_hand_written_kospi_record_reads_as_the_layout_says() -> None:
    record = head("005930", "KR7005930003", "삼성전자") + kospi_part2().encode()
    assert len(record) == 288  # the length of every record of the real KOSPI file

    row = parse_record(record, "KOSPI")

    assert (row.short_code, row.standard_code, row.name, row.market) == ("005930", "KR7005930003", "삼성전자", "KOSPI")
    assert (row.group, row.kind) == ("ST", Kind.STOCK)
    assert row.listed_shares == 5_969_782_000  # thousands in the file
    assert row.listed_on == date(1975, 6, 11)
    assert row.base_price == 61_300
    assert row.market_cap == 365_947_600_000_000  # 3,659,476 억원
    assert not (row.halted or row.administrative or row.liquidating or row.flagged)
    assert row.warning is MarketWarning.NONE


def test_halt_administrative_issue_and_market_warning_are_flags_of_their_own() -> None:
    halted = parse_record(
        head("000040", "KR7000040006", "KR모터스") + kospi_part2(halted="Y", administrative="Y").encode(), "KOSPI"
    )
    warned = parse_record(head("001520", "KR7001520006", "동양") + kospi_part2(warning="02").encode(), "KOSPI")
    risky = parse_record(head("001530", "KR7001530005", "동일제강") + kospi_part2(warning="03").encode(), "KOSPI")

    assert halted.halted and halted.administrative and halted.flagged
    assert halted.warning is MarketWarning.NONE
    assert not warned.halted and not warned.administrative
    assert warned.warning is MarketWarning.WARNING and warned.flagged
    assert risky.warning is MarketWarning.RISK


@pytest.mark.parametrize(
    ("group", "code", "kind"),
    [
        ("EF", "069500", Kind.ETF),
        ("EN", "Q500001", Kind.ETN),
        ("EW", "57LA24", Kind.ELW),
        ("RT", "330590", Kind.STOCK),
        ("BC", "F70101786", Kind.OTHER),
    ],
)
def test_the_security_group_gives_the_kind(group: str, code: str, kind: Kind) -> None:
    row = parse_record(head(code, "KR7069500007", "종목") + kospi_part2(group=group).encode(), "KOSPI")
    assert (row.short_code, row.group, row.kind) == (code, group, kind)


def test_a_hand_written_kosdaq_record_with_its_own_layout() -> None:
    record = head("247540", "KR7247540008", "에코프로비엠") + kosdaq_part2(caution_reminder="Y", warning="01").encode()
    assert len(record) == 282  # the length of every record of the real KOSDAQ file

    row = parse_record(record, "KOSDAQ")

    assert (row.short_code, row.name, row.market, row.kind) == ("247540", "에코프로비엠", "KOSDAQ", Kind.STOCK)
    assert row.listed_shares == 97_801_000
    assert row.listed_on == date(2019, 3, 5)
    assert row.market_cap == 19_560_200_000_000
    assert row.caution_reminder and row.warning is MarketWarning.CAUTION and row.flagged


def test_a_file_is_lines_and_tolerates_crlf_and_a_last_newline() -> None:
    one = head("005930", "KR7005930003", "삼성전자") + kospi_part2().encode()
    two = head("000660", "KR7000660001", "SK하이닉스") + kospi_part2(shares_thousands="000000000728002").encode()
    rows = parse_master(one + b"\r\n" + two + b"\n\n", "KOSPI")
    assert [(r.short_code, r.listed_shares) for r in rows] == [("005930", 5_969_782_000), ("000660", 728_002_000)]


@pytest.mark.parametrize(
    ("record", "says"),
    [
        (b"005930   KR7005930003", "record of"),
        (head("005930", "KR7005930003", "삼성전자") + kospi_part2(halted="X").encode(), "halted"),
        (head("005930", "KR7005930003", "삼성전자") + kospi_part2(warning="07").encode(), "warning"),
        (head("005930", "KR7005930003", "삼성전자") + kospi_part2(listed_on="19751399").encode(), "listing date"),
        (
            head("005930", "KR7005930003", "삼성전자") + kospi_part2(shares_thousands="00000000596978X").encode(),
            "shares",
        ),
        (b"005930   KR7005930003" + b"\xff" * 40 + kospi_part2().encode(), "005930"),
    ],
)
def test_a_record_off_the_layout_is_refused_saying_why(record: bytes, says: str) -> None:
    with pytest.raises(MasterFormatError, match=says):
        parse_record(record, "KOSPI")


def test_the_simulators_files_parse_back_to_its_universe() -> None:
    market = Market(seed=7, elw_count=3)
    designations = {"000660": Designation(halted=True, warning=MarketWarning.WARNING)}

    kospi = parse_master(master_file(market, "KOSPI", designations), "KOSPI")
    kosdaq = parse_master(master_file(market, "KOSDAQ"), "KOSDAQ")

    stocks = {s.symbol: s for s in market.stocks.values()}
    assert {r.short_code for r in kospi if r.kind is Kind.STOCK} == {
        s for s, x in stocks.items() if x.market == "KOSPI"
    }
    assert {r.short_code for r in kosdaq} == {s for s, x in stocks.items() if x.market == "KOSDAQ"}
    assert {r.short_code for r in kospi if r.kind is Kind.ELW} == set(market.elws)
    by_code = {r.short_code: r for r in kospi + kosdaq}
    samsung = by_code["005930"]
    assert samsung.standard_code == "KR7005930003"  # the real ISIN: the check digit is ISO 6166's
    assert samsung.base_price == stocks["005930"].prev_close
    assert samsung.listed_shares == stocks["005930"].listed_shares // 1000 * 1000
    assert by_code["000660"].halted and by_code["000660"].warning is MarketWarning.WARNING
    assert not samsung.halted and not any(r.flagged for r in kosdaq)
    assert all(len(line) == 9 + 12 + 40 + KOSPI.width for line in master_file(market, "KOSPI").splitlines())
    assert all(len(line) == 9 + 12 + 40 + KOSDAQ.width for line in master_file(market, "KOSDAQ").splitlines())


def test_standard_codes_and_names_fit_their_fields() -> None:
    assert [isin(c) for c in ("005930", "000660", "247540")] == ["KR7005930003", "KR7000660001", "KR7247540008"]
    long_name = "한국투자신탁운용글로벌인프라부동산투자신탁제1호종류형"
    assert len(fit_name(long_name).encode("cp949")) <= 40 and long_name.startswith(fit_name(long_name))
