import re
from collections import Counter

from kstock.companies.reference import load_companies, load_indices


def test_reference_data_lists_the_whole_market():
    companies = load_companies()
    markets = Counter(c.market for c in companies)
    # every KOSPI company of KIND's July 2025 list, every KOSDAQ company two lists agree on (SOURCES.md)
    assert markets == {"KOSPI": 850, "KOSDAQ": 1691}
    assert {c.kind for c in companies} == {"STOCK"}
    assert len({c.symbol for c in companies}) == len(companies)
    assert all(re.fullmatch(r"[0-9]{4}[0-9A-Z][0-9]", c.symbol) for c in companies)
    assert "0030R0" in {c.symbol for c in companies}  # alphanumeric codes are seeded too
    assert all(c.name and c.industry for c in companies)
    assert len({c.industry for c in companies}) == 162


def test_rows_are_grouped_by_market_largest_first():
    companies = load_companies()
    kospi_block = [c.market for c in companies[:850]]
    assert set(kospi_block) == {"KOSPI"} and {c.market for c in companies[850:]} == {"KOSDAQ"}
    assert [c.symbol for c in companies[:3]] == ["005930", "000660", "207940"]
    assert [c.symbol for c in companies[850:853]] == ["196170", "247540", "086520"]


def test_well_known_codes_have_their_names():
    by_symbol = {c.symbol: c for c in load_companies()}
    assert by_symbol["005930"].name == "삼성전자" and by_symbol["005930"].market == "KOSPI"
    assert by_symbol["000660"].name == "SK하이닉스"
    assert by_symbol["247540"].name == "에코프로비엠" and by_symbol["247540"].market == "KOSDAQ"


def test_unverifiable_market_figures_are_left_empty():
    assert all(c.market_cap is None and c.listed_shares is None for c in load_companies())


def test_indices():
    assert {(i.code, i.kis_code) for i in load_indices()} >= {("KOSPI", "0001"), ("KOSDAQ", "1001")}
