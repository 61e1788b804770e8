import re
from collections import Counter

from kstock.companies.reference import load_companies, load_indices


def test_reference_data_lists_at_least_200_real_companies_across_both_markets():
    companies = load_companies()
    markets = Counter(c.market for c in companies)
    assert len(companies) >= 200
    assert markets["KOSPI"] > 100 and markets["KOSDAQ"] > 50
    assert len({c.symbol for c in companies}) == len(companies)
    assert all(re.fullmatch(r"[0-9]{4}[0-9A-Z][0-9]", c.symbol) for c in companies)
    assert all(c.name and c.industry for c in companies)


def test_well_known_codes_have_their_names():
    by_symbol = {c.symbol: c for c in load_companies()}
    assert by_symbol["005930"].name == "삼성전자" and by_symbol["005930"].market == "KOSPI"
    assert by_symbol["000660"].name == "SK하이닉스"
    assert by_symbol["247540"].name == "에코프로비엠" and by_symbol["247540"].market == "KOSDAQ"


def test_unverifiable_market_figures_are_left_empty():
    assert all(c.market_cap is None and c.listed_shares is None for c in load_companies())


def test_indices():
    assert {(i.code, i.kis_code) for i in load_indices()} >= {("KOSPI", "0001"), ("KOSDAQ", "1001")}
