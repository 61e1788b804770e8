"""/companies/{id} (detail, last price, cache), financials, reports, news; /industries/{id}/news."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from support.users import company_id

from kstock import cache, keys


@pytest.fixture
def samsung(database) -> int:
    return company_id(database, "005930")


@pytest.fixture
def content_rows(database, samsung):
    """Financials, filings and news of 삼성전자 (and its industry), removed afterwards."""
    with psycopg.connect(database) as conn:
        industry = conn.execute("SELECT industry_id FROM companies WHERE id = %s", (samsung,)).fetchone()[0]
        conn.execute(
            "INSERT INTO financials (company_id, fiscal_year, revenue, operating_profit, net_income, per, pbr, source) "
            "VALUES (%s, 2023, 258935500000000, 6567000000000, 15487100000000, 30.1, 1.2, 'dart'), "
            "(%s, 2024, 300870900000000, 32726000000000, 34451400000000, 10.5, 1.1, 'dart')",
            (samsung, samsung),
        )
        conn.execute(
            "INSERT INTO reports (company_id, receipt_no, title, report_type, filed_on, url) VALUES "
            "(%s, 'r-test-1', '사업보고서 (2023.12)', 'annual', '2024-03-12', 'https://dart.fss.or.kr/1'), "
            "(%s, 'r-test-2', '분기보고서 (2024.03)', 'quarterly', '2024-05-16', 'https://dart.fss.or.kr/2')",
            (samsung, samsung),
        )
        now = datetime.now(UTC)
        ids = []
        for n in range(3):
            ids.append(
                conn.execute(
                    "INSERT INTO news (url, title, summary, source, published_at, keywords)"
                    " VALUES (%s, %s, %s, 'test', %s, %s) RETURNING id",
                    (
                        f"https://news.test/{n}-{now.timestamp()}",
                        f"기사 {n}",
                        "요약",
                        now - timedelta(hours=n),
                        ["반도체"],
                    ),
                ).fetchone()[0]
            )
            conn.execute("INSERT INTO news_companies (news_id, company_id) VALUES (%s, %s)", (ids[-1], samsung))
            conn.execute("INSERT INTO news_industries (news_id, industry_id) VALUES (%s, %s)", (ids[-1], industry))
    yield industry
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM financials WHERE company_id = %s", (samsung,))
        conn.execute("DELETE FROM reports WHERE receipt_no LIKE 'r-test-%%'")
        conn.execute("DELETE FROM news WHERE id = ANY(%s)", (ids,))


def test_company_detail(api, samsung):
    status, body, _ = api("GET", f"/companies/{samsung}")
    assert status == 200
    data = body["data"]
    assert (data["companyId"], data["name"], data["symbol"], data["market"]) == (samsung, "삼성전자", "005930", "KOSPI")
    assert data["industry"]["name"] and isinstance(data["industry"]["industryId"], int)
    assert {"description", "logo", "marketCap", "listedShares", "price", "isHalted"} <= set(data)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/companies/999999", 404, "NOT_FOUND"),
        ("/companies/abc", 400, "INVALID_REQUEST"),
        ("/companies/0", 400, "INVALID_REQUEST"),
        ("/companies/99999999999", 400, "INVALID_REQUEST"),
        ("/companies/999999/financials", 404, "NOT_FOUND"),
        ("/companies/999999/reports", 404, "NOT_FOUND"),
        ("/companies/999999/news", 404, "NOT_FOUND"),
        ("/industries/999999/news", 404, "NOT_FOUND"),
        ("/industries/x/news", 400, "INVALID_REQUEST"),
    ],
)
def test_unknown_or_bad_ids(api, path, status, code):
    answer, body, _ = api("GET", path)
    assert (answer, body["code"]) == (status, code)


def test_price_prefers_live_then_the_newest_bar_then_the_quote(api, database, samsung, market_snapshot):
    cache.client().delete(keys.latest_price("005930"))  # whatever an earlier test left: this one starts from nothing
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM company_quotes WHERE company_id = %s", (samsung,))
        for table in ("ohlcv_1d", "ohlcv_1m"):
            conn.execute(f"DELETE FROM {table} WHERE symbol = '005930'")  # e.g. an e2e backfill's bars
    assert api("GET", f"/companies/{samsung}")[1]["data"]["price"] is None  # nothing known: nothing invented
    with psycopg.connect(database) as conn:
        conn.execute(
            "INSERT INTO company_quotes (company_id, price, change, change_percent, quoted_at) "
            "VALUES (%s, 70000, 1000, 1.45, '2026-01-05 01:00+00')",
            (samsung,),
        )
    price = api("GET", f"/companies/{samsung}")[1]["data"]["price"]
    assert (price["price"], price["changePercent"], price["source"]) == (70000, 1.45, "quote")
    with psycopg.connect(database) as conn:
        conn.execute(
            "INSERT INTO ohlcv_1d (symbol, bucket, open, high, low, close, volume, amount, trade_count) "
            "VALUES ('005930', '2026-01-05 00:00+09', 1, 1, 1, 70000, 1, 1, 1), "
            "('005930', '2026-01-06 00:00+09', 1, 1, 1, 71000, 1, 1, 1)"
        )
        conn.execute(
            "INSERT INTO ohlcv_1m (symbol, bucket, open, high, low, close, volume, amount, trade_count) "
            "VALUES ('005930', '2026-01-07 09:05+09', 1, 1, 1, 72420, 1, 1, 1)"
        )
    try:
        price = api("GET", f"/companies/{samsung}")[1]["data"]["price"]
        assert (price["price"], price["source"], price["time"]) == (72420, "bar", "2026-01-07T00:06:00Z")
        assert (price["change"], price["changePercent"]) == (1420, 2.0)  # vs the previous day's close
        tick = {
            "type": "tick",
            "symbol": "005930",
            "price": 73000,
            "change": 2000,
            "changePercent": 2.82,
            "timestamp": "2026-01-07T00:30:00.000Z",
            "source": "ws",
        }
        cache.client().set(keys.latest_price("005930"), json.dumps(tick), ex=30)
        price = api("GET", f"/companies/{samsung}")[1]["data"]["price"]
        assert (price["price"], price["source"], price["changePercent"]) == (73000, "live", 2.82)
        polled = {**tick, "price": 73100, "source": "poll"}  # what the polling endpoint caches from KIS REST
        cache.client().set(keys.latest_price("005930"), json.dumps(polled), ex=30)
        price = api("GET", f"/companies/{samsung}")[1]["data"]["price"]
        assert (price["price"], price["source"]) == (73100, "quote")
    finally:
        with psycopg.connect(database) as conn:
            conn.execute("DELETE FROM ohlcv_1d WHERE symbol = '005930' AND bucket >= '2026-01-05 00:00+09'")
            conn.execute("DELETE FROM ohlcv_1m WHERE symbol = '005930'")


def test_company_info_is_cached_for_an_hour_and_dropped_on_refresh(api, database, samsung, market_snapshot):
    from kstock.companies.detail import forget_companies

    cache.client().delete(keys.company_info(samsung))
    api("GET", f"/companies/{samsung}")
    assert 3500 < cache.client().ttl(keys.company_info(samsung)) <= 3600
    with psycopg.connect(database) as conn:
        conn.execute("UPDATE companies SET market_cap = 123 WHERE id = %s", (samsung,))
    assert api("GET", f"/companies/{samsung}")[1]["data"]["marketCap"] != 123  # served from the cache
    forget_companies([samsung])  # what a market-data refresh does
    assert api("GET", f"/companies/{samsung}")[1]["data"]["marketCap"] == 123


def test_financials_are_an_honest_empty_list_without_dart_data(api, samsung):
    status, body, _ = api("GET", f"/companies/{samsung}/financials")
    assert (status, body["data"]) == (200, [])


def test_financials_reports_and_news(api, samsung, content_rows):
    data = api("GET", f"/companies/{samsung}/financials")[1]["data"]
    assert [f["fiscalYear"] for f in data] == [2024, 2023]
    assert data[0]["revenue"] == 300870900000000 and data[0]["operatingProfit"] == 32726000000000
    assert data[0]["netIncome"] == 34451400000000
    reports = api("GET", f"/companies/{samsung}/reports")[1]["data"]
    assert [r["title"] for r in reports] == ["분기보고서 (2024.03)", "사업보고서 (2023.12)"]
    assert reports[0]["url"].startswith("https://") and reports[0]["filedOn"] == str(date(2024, 5, 16))
    news = api("GET", f"/companies/{samsung}/news")[1]["data"]
    assert [n["title"] for n in news] == ["기사 0", "기사 1", "기사 2"]  # newest first
    assert api("GET", f"/companies/{samsung}/news", query={"size": "2", "page": "2"})[1]["data"][0]["title"] == "기사 2"
    industry_news = api("GET", f"/industries/{content_rows}/news")[1]["data"]
    assert [n["title"] for n in industry_news] == ["기사 0", "기사 1", "기사 2"]


@pytest.mark.parametrize("suffix", ["financials", "reports", "news"])
@pytest.mark.parametrize("query", [{"size": "101"}, {"page": "0"}, {"size": "-1"}])
def test_list_pagination_bounds(api, samsung, suffix, query):
    status, body, _ = api("GET", f"/companies/{samsung}/{suffix}", query=query)
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


def test_nul_in_a_query_is_refused(api):
    status, body, _ = api("GET", "/companies", query={"keyword": "삼\x00성"})
    assert (status, body["code"]) == (400, "INVALID_REQUEST")
