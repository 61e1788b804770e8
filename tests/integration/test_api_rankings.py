"""/rankings (cached 5 min, dropped on refresh) and /indices/{kospi,kosdaq}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from support.users import company_id

from kstock import cache, keys
from kstock.rankings.service import RANKING_HASHES, invalidate

CAPS = {
    "005930": 400_000_000_000_000,
    "000660": 150_000_000_000_000,
    "035420": 30_000_000_000_000,
    "207940": 55_000_000_000_000,
}


@pytest.fixture
def caps(database, market_snapshot):
    with psycopg.connect(database) as conn:
        conn.execute("UPDATE companies SET market_cap = NULL")
        for symbol, cap in CAPS.items():
            conn.execute("UPDATE companies SET market_cap = %s WHERE symbol = %s", (cap, symbol))
            conn.execute(
                "INSERT INTO company_quotes (company_id, price, change_percent, quoted_at) "
                "SELECT id, 1000, %s, now() FROM companies WHERE symbol = %s",
                (len(symbol) % 3, symbol),
            )
    invalidate()
    return CAPS


def test_companies_by_market_cap(api, caps):
    status, body, headers = api("GET", "/rankings/companies", query={"size": "5"})
    assert status == 200
    data = body["data"]
    assert [c["symbol"] for c in data[:4]] == ["005930", "000660", "207940", "035420"]
    assert [c["rank"] for c in data] == [1, 2, 3, 4, 5]
    assert data[4]["marketCap"] is None  # unknown caps rank last, never made up
    assert data[0]["price"] == 1000 and data[0]["industry"]
    second = api("GET", "/rankings/companies", query={"size": "2", "page": "2"})[1]["data"]
    assert [(c["rank"], c["symbol"]) for c in second] == [(3, "207940"), (4, "035420")]
    kosdaq = api("GET", "/rankings/companies", query={"market": "KOSDAQ"})[1]["data"]
    assert kosdaq and {c["market"] for c in kosdaq} == {"KOSDAQ"}


def test_rankings_are_cached_for_five_minutes_and_dropped_on_refresh(api, database, caps):
    first = api("GET", "/rankings/companies", query={"size": "3"})
    assert first[2]["X-Cache"] == "miss"
    assert 290 < cache.client().ttl(keys.RANKINGS_COMPANIES) <= 300
    with psycopg.connect(database) as conn:
        conn.execute("UPDATE companies SET market_cap = 900000000000000 WHERE symbol = '035420'")
    again = api("GET", "/rankings/companies", query={"size": "3"})
    assert again[2]["X-Cache"] == "hit" and again[1]["data"] == first[1]["data"]  # stale until a refresh
    from kstock.companies.detail import forget_companies

    forget_companies([company_id(database, "035420")])  # what the market-data refresh calls
    fresh = api("GET", "/rankings/companies", query={"size": "3"})
    assert fresh[2]["X-Cache"] == "miss" and fresh[1]["data"][0]["symbol"] == "035420"


def test_a_ranking_computed_during_a_refresh_is_not_cached(caps):
    from kstock.marketdata import cache as market_cache

    def produce():
        invalidate()  # a refresh lands while this answer is being computed
        return ["old"]

    value, hit = market_cache.cached(keys.RANKINGS_COMPANIES, "race", 300, produce, lambda v: v, lambda v: v)
    assert (value, hit) == (["old"], False)
    assert cache.client().hget(keys.RANKINGS_COMPANIES, "race") is None


def test_industries_by_total_market_cap(api, database, caps):
    data = api("GET", "/rankings/industries")[1]["data"]
    with psycopg.connect(database) as conn:
        samsung_industry = conn.execute(
            "SELECT i.name FROM companies c JOIN industries i ON i.id = c.industry_id WHERE symbol = '005930'"
        ).fetchone()[0]
    assert data[0]["name"] == samsung_industry and data[0]["totalMarketCap"] >= CAPS["005930"]
    assert data[0]["withMarketCap"] >= 1 and data[0]["companies"] >= data[0]["withMarketCap"]
    assert data[0]["averageChangePercent"] is not None
    assert [i["rank"] for i in data] == list(range(1, len(data) + 1))
    industry = data[0]["industryId"]
    members = api("GET", f"/rankings/industries/{industry}/companies")[1]["data"]
    assert members[0]["symbol"] == "005930" and {m["industryId"] for m in members} == {industry}
    status, body, _ = api("GET", "/rankings/industries/999999/companies")
    assert (status, body["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/rankings/companies", {"market": "NYSE"}),
        ("/rankings/companies", {"size": "101"}),
        ("/rankings/industries", {"page": "-1"}),
        ("/rankings/industries/1/companies", {"size": "0"}),
    ],
)
def test_ranking_query_errors(api, path, query):
    status, body, _ = api("GET", path, query=query)
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


def test_cache_keys_are_the_ones_in_keys():
    assert set(RANKING_HASHES) == {keys.RANKINGS_COMPANIES, keys.RANKINGS_INDUSTRIES, keys.RANKINGS_INDUSTRY_COMPANIES}


# -- indices ------------------------------------------------------------------------------------------


@pytest.fixture
def index_rows(database):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM index_data WHERE index_code = 'KOSPI'")
        for n in range(5, 0, -1):
            day = (now - timedelta(days=n)).date()
            conn.execute(
                "INSERT INTO index_data (index_code, interval, time, open, high, low, close, volume) "
                "VALUES ('KOSPI', '1d', %s::date::timestamp AT TIME ZONE 'Asia/Seoul', 1, 2, 0.5, %s, 10)",
                (day, 2500 + n),
            )
        conn.execute(
            "INSERT INTO index_data (index_code, interval, time, close) VALUES ('KOSPI', '1m', %s, 2550.5)", (now,)
        )
    yield now
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM index_data WHERE index_code = 'KOSPI'")


def test_index_history_and_latest_value(api, index_rows):
    status, body, _ = api("GET", "/indices/kospi")
    assert status == 200
    data = body["data"]
    assert (data["index"], data["name"], data["interval"]) == ("KOSPI", "코스피", "1d")
    assert [b["close"] for b in data["bars"]] == [2505, 2504, 2503, 2502, 2501]  # ascending in time
    times = [b["time"] for b in data["bars"]]
    assert times == sorted(times)
    latest = data["latest"]
    assert latest["value"] == 2550.5 and latest["time"] == int(index_rows.timestamp())
    assert latest["previousClose"] is not None and latest["change"] == round(2550.5 - latest["previousClose"], 2)
    minutes = api("GET", "/indices/kospi", query={"interval": "1m"})[1]["data"]["bars"]
    assert [b["close"] for b in minutes] == [2550.5]
    start = (index_rows - timedelta(days=2)).date().isoformat()
    bounded = api("GET", "/indices/kospi", query={"start": start})[1]["data"]["bars"]
    assert len(bounded) in (1, 2)


def test_kosdaq_without_data_is_an_empty_history(api, database):
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM index_data WHERE index_code = 'KOSDAQ'")
    data = api("GET", "/indices/kosdaq")[1]["data"]
    assert data["index"] == "KOSDAQ" and data["bars"] == [] and data["latest"] is None


@pytest.mark.parametrize(
    "query",
    [
        {"interval": "5m"},
        {"start": "yesterday"},
        {"start": "2026-02-30"},
        {"start": "2026-03-01", "end": "2026-02-01"},
        {"end": "0001-01-01"},
        {"start": "9999-12-31"},
    ],
)
def test_index_query_errors(api, query):
    status, body, _ = api("GET", "/indices/kospi", query=query)
    assert (status, body["code"]) == (400, "INVALID_REQUEST"), body


# -- market-data refresh without KIS ------------------------------------------------------------------


def test_a_refresh_with_kis_down_stops_at_once_and_changes_nothing(database, market_snapshot):
    from kstock.kis.auth import KisCredentials
    from kstock.kis.endpoints import endpoint_down
    from kstock.kis.rest import KisRestClient
    from kstock.marketdata import refresh
    from kstock_local.embedded import free_port

    port = free_port()
    # its own app key: the token-issue guard it leaves behind concerns nobody else
    client = KisRestClient(
        f"http://127.0.0.1:{port}", KisCredentials("unit-test-key", "unit-test-secret"), max_attempts=1, timeout=2
    )
    result = refresh.refresh(client, batch_size=50)
    assert (result.failed, result.quoted, result.updated_ids) == (1, 0, [])
    assert endpoint_down(f"http://127.0.0.1:{port}") is True  # and the scheduled job would skip its run
