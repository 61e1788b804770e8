"""`kstock listings sync`'s core: the simulator's master files over HTTP into a seeded database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from support.envs import environment
from support.kis import running_simulator

from kstock import db
from kstock.companies.reference import load_companies, seed
from kstock.db.migrate import migrate
from kstock.listings.errors import MasterFormatError
from kstock.listings.master import KOSPI, Kind, MarketWarning, MasterRecord, parse_master, parse_record
from kstock.listings.sync import UNCLASSIFIED, apply, sync
from kstock_local.cli.main import main
from kstock_local.kis_sim import SimulatorThread
from kstock_local.kis_sim.market import Market
from kstock_local.kis_sim.master import Designation, isin, master_file, master_record


@pytest.fixture
def seeded_url(empty_database: str) -> str:
    migrate(empty_database)
    with db.connect(empty_database) as conn:
        seed(conn)
    return empty_database


@pytest.fixture
def seeded(seeded_url: str) -> Iterator[psycopg.Connection[Any]]:
    with db.connect(seeded_url) as conn:
        yield conn


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorThread]:
    with running_simulator(elw_count=4) as thread:
        yield thread


def company(conn: psycopg.Connection[Any], symbol: str) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT c.*, i.name AS industry FROM companies c LEFT JOIN industries i ON i.id = c.industry_id "
            "WHERE c.symbol = %s",
            (symbol,),
        )
        row = cur.fetchone()
    assert row is not None, symbol
    return row


def etf(code: str, standard: str, name: str, group: str = "EF") -> MasterRecord:
    """A KOSPI record of an exchange-traded product, written field by field."""
    part2 = KOSPI.blank()
    for field, value in {"group": group, "halted": "N", "administrative": "N", "warning": "00"}.items():
        KOSPI.put(part2, field, value)
    KOSPI.put(part2, "listed_shares", "172100")
    KOSPI.put(part2, "listed_on", "20021014")
    return parse_record(KOSPI.record(code, standard, name, part2), "KOSPI")


def test_a_sync_from_the_simulator_fills_every_seeded_company_and_adds_its_elws(
    seeded: psycopg.Connection[Any], simulator: SimulatorThread
) -> None:
    url = f"{simulator.sim.rest_url}/common/master"
    elws = set(simulator.sim.market.elws)

    first = sync(seeded, url)

    seeded_count = len(load_companies())
    assert first.inserted == len(elws) == 4
    assert first.updated == seeded_count  # every seeded company gains its ISIN, group and listed shares
    assert first.records == seeded_count + len(elws) and first.skipped == 0 and first.absent == 0
    samsung = company(seeded, "005930")
    assert (samsung["standard_code"], samsung["security_group"], samsung["kind"]) == ("KR7005930003", "ST", "STOCK")
    assert samsung["listed_shares"] == simulator.sim.market.stocks["005930"].listed_shares // 1000 * 1000
    assert samsung["industry"] == "통신 및 방송 장비 제조업"  # the seed's KSIC industry stays
    for code in elws:
        elw = company(seeded, code)
        assert (elw["kind"], elw["market"], elw["industry"]) == ("ELW", "KOSPI", UNCLASSIFIED)

    again = sync(seeded, url)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, seeded_count + len(elws))


def test_halts_and_warnings_show_and_clear_and_products_get_their_kind(seeded: psycopg.Connection[Any]) -> None:
    market = Market(seed=11, elw_count=0)
    flagged = {
        "000660": Designation(halted=True, administrative=True),
        "035420": Designation(warning=MarketWarning.WARNING),
        "005380": Designation(liquidating=True),
    }
    listing = parse_master(master_file(market, "KOSPI", flagged), "KOSPI")
    products = [
        etf("069500", "KR7069500007", "KODEX 200"),
        etf("Q500001", "KRG501300013", "신한 K200 USD 선물 바이셀 ETN", group="EN"),
    ]
    fund = etf("F70101786", "KR5701017869", "벨기에코어오피스부동산(A)", group="BC")

    result = apply(seeded, [*listing, *products, fund])

    assert result.inserted == 2 and result.skipped == 1  # the fund is not a company
    hynix, naver, hyundai = (company(seeded, s) for s in ("000660", "035420", "005380"))
    assert hynix["is_halted"] and hynix["is_administrative"] and hynix["is_warning"]
    assert hynix["market_warning"] is None
    assert naver["market_warning"] == "warning" and naver["is_warning"] and not naver["is_halted"]
    assert hyundai["is_warning"] and not hyundai["is_administrative"]  # 정리매매 alone flags it
    samsung = company(seeded, "005930")
    assert not (samsung["is_halted"] or samsung["is_warning"] or samsung["is_administrative"])
    kodex, etn = company(seeded, "069500"), company(seeded, "Q500001")
    assert (kodex["kind"], kodex["name"], kodex["listed_shares"], str(kodex["listed_on"])) == (
        "ETF",
        "KODEX 200",
        172_100_000,
        "2002-10-14",
    )
    assert (etn["kind"], etn["industry"]) == (Kind.ETN, UNCLASSIFIED)
    kosdaq_symbols = {c.symbol for c in load_companies() if c.market == "KOSDAQ"}
    assert result.absent == len(kosdaq_symbols)  # only the KOSPI file was applied: counted, not deleted

    cleared = apply(seeded, parse_master(master_file(market, "KOSPI"), "KOSPI"))

    assert set(cleared.changed_symbols) == set(flagged)
    for symbol in flagged:
        row = company(seeded, symbol)
        assert not (row["is_halted"] or row["is_warning"] or row["is_administrative"] or row["market_warning"])


def test_listed_shares_move_only_when_the_thousands_do(seeded: psycopg.Connection[Any]) -> None:
    market = Market(seed=5, elw_count=0)
    listing = parse_master(master_file(market, "KOSPI"), "KOSPI")
    apply(seeded, listing)
    exact = market.stocks["005930"].listed_shares // 1000 * 1000 + 417  # what KIS's price answer stores
    seeded.execute("UPDATE companies SET listed_shares = %s WHERE symbol = '005930'", (exact,))
    seeded.commit()

    assert "005930" not in apply(seeded, listing).changed_symbols
    assert company(seeded, "005930")["listed_shares"] == exact

    market.stocks["005930"].listed_shares += 5_000
    assert "005930" in apply(seeded, parse_master(master_file(market, "KOSPI"), "KOSPI")).changed_symbols
    assert company(seeded, "005930")["listed_shares"] == market.stocks["005930"].listed_shares // 1000 * 1000


def test_a_file_the_simulator_does_not_serve_changes_nothing(
    seeded: psycopg.Connection[Any], simulator: SimulatorThread
) -> None:
    before = company(seeded, "005930")
    with pytest.raises(MasterFormatError, match="404"):
        sync(seeded, f"{simulator.sim.rest_url}/common/elsewhere")
    assert company(seeded, "005930") == before


def test_a_new_code_is_inserted_unclassified_and_a_new_name_replaces_the_seeds(
    seeded: psycopg.Connection[Any],
) -> None:
    market = Market(seed=3, elw_count=0)
    samsung = master_record(KOSPI, market.stocks["005930"], None)
    newcomer = parse_record(
        samsung.replace(b"005930   KR7005930003", b"0099Z0   " + isin("0099Z0").encode(), 1), "KOSPI"
    )
    short_name = market.stocks["005380"]
    short_name.name = "현대차"  # KRX's short name; the seed has KIND's 현대자동차

    result = apply(seeded, [newcomer, parse_record(master_record(KOSPI, short_name, None), "KOSPI")])

    assert (result.inserted, result.updated) == (1, 1)
    added = company(seeded, "0099Z0")
    assert (added["kind"], added["market"], added["industry"], added["listed_on"]) == (
        "STOCK",
        "KOSPI",
        UNCLASSIFIED,
        None,
    )
    hyundai = company(seeded, "005380")
    assert hyundai["name"] == "현대차" and hyundai["industry"] == "자동차용 엔진 및 자동차 제조업"


def test_a_re_seed_keeps_what_a_sync_wrote_and_still_corrects_the_rest(seeded: psycopg.Connection[Any]) -> None:
    """`kstock up` re-seeds on every start: the sync's names and markets (newer than the seed file)
    stay; a company no sync has written still gets the seed's."""
    market = Market(seed=3, elw_count=0)
    renamed = market.stocks["005380"]
    renamed.name = "현대차"  # KRX's short name; the seed has KIND's 현대자동차
    moved_symbol = next(c.symbol for c in load_companies() if c.market == "KOSDAQ" and c.kind == "STOCK")
    moved = market.stocks[moved_symbol]  # moved from KOSDAQ to KOSPI (이전상장): the KOSPI file lists it
    apply(seeded, [parse_record(master_record(KOSPI, s, None), "KOSPI") for s in (renamed, moved)])
    seeded.execute("UPDATE companies SET name = 'stale name' WHERE symbol = '000660'")  # never synced
    seeded.commit()
    synced_at = {s: company(seeded, s)["updated_at"] for s in ("005380", moved_symbol)}

    seed(seeded)

    hyundai, mover = company(seeded, "005380"), company(seeded, moved_symbol)
    assert (hyundai["name"], hyundai["market"]) == ("현대차", "KOSPI")
    assert (mover["name"], mover["market"], mover["kind"]) == (moved.name, "KOSPI", "STOCK")
    assert {s: company(seeded, s)["updated_at"] for s in synced_at} == synced_at  # the re-seed changed nothing
    assert hyundai["industry"] == "자동차용 엔진 및 자동차 제조업"  # the seed's industry still applies
    assert company(seeded, "000660")["name"] == "SK하이닉스"  # the seed corrects a company no sync wrote


def test_kstock_listings_sync_reads_kis_master_url_and_reports_counts(
    seeded_url: str, simulator: SimulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    with environment(DATABASE_URL=seeded_url, KIS_MASTER_URL=f"{simulator.sim.rest_url}/common/master"):
        assert main(["listings", "sync"]) == 0
        first = capsys.readouterr().out
        assert main(["listings", "sync"]) == 0
        second = capsys.readouterr().out
        assert main(["listings", "sync", "--url", f"{simulator.sim.rest_url}/nothing"]) == 1
        refused = capsys.readouterr().err

    seeded_count = len(load_companies())
    assert f"4 inserted, {seeded_count} updated, 0 unchanged" in first
    assert f"0 inserted, 0 updated, {seeded_count + 4} unchanged" in second
    assert "404" in refused and "nothing was written" in refused
    with db.connect(seeded_url) as conn:
        assert company(conn, "005930")["standard_code"] == "KR7005930003"
