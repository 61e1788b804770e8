"""/comparisons and /users/portfolio: a user's own resources, figures at the last price."""

from __future__ import annotations

import json

import psycopg
import pytest
from support.users import company_id


@pytest.fixture
def ids(database):
    symbols = ("005930", "000660", "035420")
    # The prices these tests expect come only from what they write: bars other modules loaded go.
    with psycopg.connect(database) as conn:
        for table in ("ohlcv_1d", "ohlcv_1m"):
            conn.execute(f"DELETE FROM {table} WHERE symbol = ANY(%s)", (list(symbols),))
    return [company_id(database, s) for s in symbols]


def post(api, path, payload, who):
    return api("POST", path, body=json.dumps(payload), headers=who.headers)


def test_create_list_and_detail(api, user, ids, database, market_snapshot):
    status, body, _ = post(api, "/comparisons", {"name": " 반도체 기업 비교 ", "companies": ids[:2]}, user)
    assert status == 201
    created = body["data"]
    assert created["name"] == "반도체 기업 비교" and created["createdAt"]
    assert created["companies"] == [
        {"companyId": ids[0], "companyName": "삼성전자", "symbol": "005930"},
        {"companyId": ids[1], "companyName": "SK하이닉스", "symbol": "000660"},
    ]
    post(api, "/comparisons", {"name": "second", "companies": [ids[2], ids[0]]}, user)
    listed = api("GET", "/comparisons", headers=user.headers)[1]["data"]
    assert [c["name"] for c in listed] == ["second", "반도체 기업 비교"]
    assert [m["symbol"] for m in listed[0]["companies"]] == ["035420", "005930"]  # the order given
    with psycopg.connect(database) as conn:
        conn.execute(
            "INSERT INTO company_quotes (company_id, price, change, change_percent, per, pbr, quoted_at) "
            "VALUES (%s, 70000, 700, 1.01, 12.5, 1.3, now())",
            (ids[0],),
        )
        conn.execute("UPDATE companies SET market_cap = 420000000000000 WHERE id = %s", (ids[0],))
        conn.execute(
            "INSERT INTO financials (company_id, fiscal_year, revenue, operating_profit, per, source) "
            "VALUES (%s, 2024, 300, 30, 99, 'dart'), (%s, 2023, 200, 20, 98, 'dart')",
            (ids[1], ids[1]),
        )
    try:
        status, body, _ = api("GET", f"/comparisons/{created['comparisonId']}", headers=user.headers)
        assert status == 200
        samsung, hynix = body["data"]["companies"]
        assert (samsung["price"]["price"], samsung["changePercent"], samsung["marketCap"]) == (
            70000,
            1.01,
            420000000000000,
        )
        assert (samsung["per"], samsung["pbr"], samsung["revenue"]) == (12.5, 1.3, None)
        assert (hynix["price"], hynix["per"], hynix["fiscalYear"], hynix["revenue"], hynix["operatingProfit"]) == (
            None,
            99,
            2024,
            300,
            30,
        )
    finally:
        with psycopg.connect(database) as conn:
            conn.execute("DELETE FROM financials WHERE company_id = %s", (ids[1],))


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"name": "one", "companies": [1]}, "INVALID_REQUEST"),
        ({"name": "eleven", "companies": list(range(1, 12))}, "INVALID_REQUEST"),
        ({"name": "twice", "companies": [1, 1]}, "INVALID_REQUEST"),
        ({"name": "unknown", "companies": [1, 999_999]}, "INVALID_REQUEST"),
        ({"name": "", "companies": [1, 2]}, "INVALID_REQUEST"),
        ({"name": "strings", "companies": ["1", "2"]}, "INVALID_REQUEST"),
        ({"companies": [1, 2]}, "MISSING_FIELD"),
        ({"name": "x"}, "MISSING_FIELD"),
    ],
)
def test_create_errors(api, user, payload, code):
    status, body, _ = post(api, "/comparisons", payload, user)
    assert (status, body["code"]) == (400, code), body


def test_another_users_comparison_is_not_found(api, user, other_user, ids):
    _, body, _ = post(api, "/comparisons", {"name": "mine", "companies": ids[:2]}, user)
    comparison = body["data"]["comparisonId"]
    status, body, _ = api("GET", f"/comparisons/{comparison}", headers=other_user.headers)
    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert api("GET", "/comparisons", headers=other_user.headers)[1]["data"] == []
    assert api("GET", "/comparisons/999999999", headers=user.headers)[0] == 404


def test_comparison_pagination(api, user, ids):
    for n in range(3):
        post(api, "/comparisons", {"name": f"c{n}", "companies": ids[:2]}, user)
    page = api("GET", "/comparisons", query={"size": "2", "page": "2"}, headers=user.headers)[1]["data"]
    assert [c["name"] for c in page] == ["c0"]
    assert api("GET", "/comparisons", query={"size": "500"}, headers=user.headers)[1]["code"] == "INVALID_REQUEST"


# -- portfolio ---------------------------------------------------------------------------------------


def test_portfolio_values_holdings_at_the_last_price(api, user, ids, database, market_snapshot):
    status, body, _ = post(api, "/users/portfolio", {"companyId": ids[0], "quantity": 10, "averagePrice": 60000}, user)
    assert status == 201 and body["data"]["cost"] == 600000 and body["data"]["value"] is None
    post(api, "/users/portfolio", {"companyId": ids[1], "quantity": 2, "averagePrice": 100000.5}, user)
    with psycopg.connect(database) as conn:
        conn.execute("INSERT INTO company_quotes (company_id, price, quoted_at) VALUES (%s, 66000, now())", (ids[0],))
    data = api("GET", "/users/portfolio", headers=user.headers)[1]["data"]
    samsung, hynix = data["holdings"]
    assert (samsung["value"], samsung["profitLoss"], samsung["profitLossPercent"]) == (660000, 60000, 10.0)
    assert (hynix["averagePrice"], hynix["cost"], hynix["value"], hynix["profitLoss"]) == (100000.5, 200001, None, None)
    assert data["totals"] == {
        "holdings": 2,
        "priced": 1,
        "cost": 800001.0,
        "value": 660000.0,
        "profitLoss": 60000.0,
        "profitLossPercent": 10.0,
    }
    # setting a holding again replaces it (200)
    status, body, _ = post(api, "/users/portfolio", {"companyId": ids[0], "quantity": 5, "averagePrice": 70000}, user)
    assert status == 200 and body["data"]["profitLoss"] == -20000
    page = api("GET", "/users/portfolio", query={"size": "1", "page": "2"}, headers=user.headers)[1]["data"]
    assert [h["symbol"] for h in page["holdings"]] == ["000660"] and page["totals"]["holdings"] == 2
    holding = samsung["holdingId"]
    assert api("DELETE", f"/users/portfolio/{holding}", headers=user.headers)[0] == 200
    assert [h["symbol"] for h in api("GET", "/users/portfolio", headers=user.headers)[1]["data"]["holdings"]] == [
        "000660"
    ]
    assert api("DELETE", "/users/portfolio", query={"companyId": str(ids[1])}, headers=user.headers)[0] == 200
    assert api("GET", "/users/portfolio", headers=user.headers)[1]["data"]["holdings"] == []
    status, body, _ = api("DELETE", "/users/portfolio", query={"companyId": str(ids[1])}, headers=user.headers)
    assert (status, body["code"]) == (404, "NOT_FOUND")
    status, body, _ = api("DELETE", "/users/portfolio", headers=user.headers)
    assert (status, body["code"]) == (400, "MISSING_FIELD")


def test_another_users_holding_is_invisible(api, user, other_user, ids):
    _, body, _ = post(api, "/users/portfolio", {"companyId": ids[0], "quantity": 1, "averagePrice": 1}, user)
    holding = body["data"]["holdingId"]
    assert api("GET", "/users/portfolio", headers=other_user.headers)[1]["data"]["holdings"] == []
    status, body, _ = api("DELETE", f"/users/portfolio/{holding}", headers=other_user.headers)
    assert (status, body["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"companyId": 999_999, "quantity": 1, "averagePrice": 1}, 404, "NOT_FOUND"),
        ({"companyId": 1, "quantity": 0, "averagePrice": 1}, 400, "INVALID_REQUEST"),
        ({"companyId": 1, "quantity": 1.5, "averagePrice": 1}, 400, "INVALID_REQUEST"),
        ({"companyId": 1, "quantity": 1, "averagePrice": -1}, 400, "INVALID_REQUEST"),
        ({"companyId": 1, "quantity": 1}, 400, "MISSING_FIELD"),
    ],
)
def test_portfolio_errors(api, user, payload, status, code):
    answer, body, _ = post(api, "/users/portfolio", payload, user)
    assert (answer, body["code"]) == (status, code), body
