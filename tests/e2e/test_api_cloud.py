"""The REST API on the local cloud (production template.yaml, KIS simulator over real sockets):
the scheduled market-data and index functions, the rate limit shared by the API's instances
through Redis, and a schemathesis run against the served OpenAPI document."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests
from support.cloud import start_cloud
from support.kis import credentials, forget_kis_tokens, rest_client
from support.paths import PROJECT_ROOT

from kstock import aws, cache, keys
from kstock.auth import tokens
from kstock.kis.auth import MemoryTokenStore
from kstock.kis.rest import KisRestClient
from kstock.marketdata import refresh
from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.kis_sim.server import SimulatorThread

RATE_LIMIT = 50_000  # the schemathesis run must not be throttled; the limit test presets a window
# companies one MarketDataFunction run of the test quotes: the whole market takes several runs
REFRESH_BATCH = 200


@pytest.fixture(scope="module")
def simulator(services):
    forget_kis_tokens()
    config = SimulatorConfig(rest_port=0, ws_port=0, trades_per_second=0, rest_rate_per_second=500)
    with SimulatorThread(config) as sim:
        yield sim
    forget_kis_tokens()


@pytest.fixture(scope="module")
def restored(database):
    """The session database's market data as it was, once this module is done."""
    with psycopg.connect(database) as conn:
        companies = conn.execute(
            "SELECT id, listed_shares, market_cap, market_data_at, is_halted FROM companies"
        ).fetchall()
    yield
    from kstock.companies.detail import forget_companies

    with psycopg.connect(database) as conn, conn.cursor() as cur:
        cur.executemany(
            "UPDATE companies SET listed_shares = %s, market_cap = %s, market_data_at = %s, "
            "is_halted = %s WHERE id = %s",
            [(*row[1:], row[0]) for row in companies],
        )
        cur.execute("DELETE FROM company_quotes")
        cur.execute("DELETE FROM index_data")
    forget_companies([row[0] for row in companies])
    redis = cache.client()
    for key in redis.scan_iter(keys.rate_limit("*")):  # the run's requests must not count against later tests
        redis.delete(key)


@pytest.fixture(scope="module")
def cloud(services, database, moto_endpoint, simulator, restored):
    env = {
        **services,
        "KIS_REST_URL": simulator.rest_url,
        "KIS_WS_URL": simulator.ws_url,
        "KIS_REST_RATE_PER_SECOND": "400",
        "JWT_SECRET": tokens.signing_key(),
        "BCRYPT_ROUNDS": "4",
        "RATE_LIMIT_REQUESTS": str(RATE_LIMIT),
        # a scheduled run (KRX hours) takes the rankings only: the tests invoke the batches they check
        "MARKET_DATA_BATCH_SIZE": "0",
        "INDEX_HISTORY_DAYS": "400",
        # this stack runs no streamer: /health judges the API and its stores only
        "HEALTH_REQUIRES_STREAMER": "false",
    }
    with start_cloud(PROJECT_ROOT / "template.yaml", moto_endpoint, env) as running:
        yield running
    # schemathesis adds favorites and holdings, which queue history, news and DART loads that the
    # workers then store: none of it may reach the queues or the tables of later modules
    sqs = aws.client("sqs", endpoint_url=moto_endpoint)
    for url in running.provisioned.queue_urls.values():
        sqs.purge_queue(QueueUrl=url)
    with psycopg.connect(database) as conn:
        for table in ("ohlcv_1d", "news", "reports", "financials", "data_refreshes", "dart_corp_codes"):
            conn.execute(f"DELETE FROM {table}")


def invoke(cloud, logical_id: str, event: dict | None = None):
    return asyncio.run(cloud.functions.get(logical_id).invoke(event or {}))


def _forget_market_data(database: str) -> list[str]:
    """Nothing refreshed, whatever ran before (the module restores it afterwards); the companies a
    refresh quotes first, in its order (unknown listed shares, then the oldest, then by id)."""
    from kstock.companies.detail import forget_companies

    with psycopg.connect(database) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "UPDATE companies SET market_cap = NULL, listed_shares = NULL, market_data_at = NULL RETURNING id"
            )
        ]
        conn.execute("DELETE FROM company_quotes")
        stalest = [
            r[0] for r in conn.execute("SELECT symbol FROM companies WHERE kind IN ('STOCK', 'ETF', 'ETN') ORDER BY id")
        ]
    forget_companies(ids)
    return stalest


def test_market_data_refresh_fills_caps_and_drops_cached_rankings(cloud, database, simulator):
    """One run refreshes a batch (the whole market, ~2,500 companies at KIS's 20 calls/s, takes
    several runs, each inside the function's timeout): the batch's caps and listed shares as KIS
    gives them, the largest companies' caps from the market-cap rankings, the cached rankings dropped."""
    stalest = _forget_market_data(database)
    assert len(stalest) > 10 * REFRESH_BATCH  # the whole market is seeded: a batch is a small part of it
    before = requests.get(f"{cloud.http_url}/rankings/companies", params={"size": "3"}, timeout=10)
    assert before.status_code == 200 and before.json()["data"][0]["marketCap"] is None  # nothing refreshed yet
    assert (
        requests.get(f"{cloud.http_url}/rankings/companies", params={"size": "3"}, timeout=10).headers["X-Cache"]
        == "hit"
    )
    result = invoke(cloud, "MarketDataFunction", {"batchSize": REFRESH_BATCH})
    assert result["ranked"] > 0 and result["quoted"] == REFRESH_BATCH and result["failed"] == 0
    assert result["stoppedAtDeadline"] == 0
    batch = stalest[:REFRESH_BATCH]
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT id, symbol, kind, market_cap, listed_shares FROM companies WHERE market_data_at IS NOT NULL"
        ).fetchall()
        quotes = conn.execute("SELECT count(*) FROM company_quotes WHERE per IS NOT NULL").fetchone()[0]
    refreshed = {symbol: (cap, shares) for _, symbol, _, cap, shares in rows}
    assert set(batch) <= set(refreshed) and len(refreshed) == result["updated"]
    market = simulator.market.stocks
    for symbol in batch:  # the batch as KIS answers (a quiet simulator: its figures stand still)
        cap, shares = refreshed[symbol]
        assert shares == market[symbol].listed_shares and cap == _won(market[symbol].market_cap)
    assert all(cap > 0 for cap, _ in refreshed.values()) and quotes >= REFRESH_BATCH
    # outside the batch, only the rankings' companies: caps without listed shares, nothing invented
    assert all(refreshed[s][1] is None for s in refreshed if s not in batch)
    after = requests.get(f"{cloud.http_url}/rankings/companies", params={"size": "100"}, timeout=10)
    assert after.headers["X-Cache"] == "miss"  # the refresh dropped the cached page
    page = after.json()["data"]
    top = page[:3]
    assert top[0]["symbol"] == "005930" and top[0]["marketCap"] > top[1]["marketCap"] > top[2]["marketCap"]
    assert top[0]["price"] > 0
    # the refreshed stocks first, in the order of KIS's caps (equal caps by id), then the unrefreshed
    stocks = sorted((r for r in rows if r[2] == "STOCK"), key=lambda r: (-_won(market[r[1]].market_cap), r[0]))
    assert [c["symbol"] for c in page] == [r[1] for r in stocks][:100]
    assert [c["marketCap"] for c in page] == [_won(market[r[1]].market_cap) for r in stocks][:100]
    detail = requests.get(f"{cloud.http_url}/companies/{top[0]['companyId']}", timeout=10).json()["data"]
    assert detail["marketCap"] == top[0]["marketCap"] and detail["listedShares"] > 0
    assert detail["price"]["source"] in ("quote", "bar", "live")
    industries = requests.get(f"{cloud.http_url}/rankings/industries", timeout=10).json()["data"]
    assert industries[0]["totalMarketCap"] >= top[0]["marketCap"]


def test_a_refresh_returns_at_its_deadline_with_all_it_fetched_written(database, simulator, restored):
    """The deadline stops the batch between two KIS calls; every company quoted before it is stored
    (a first chunk while the run went on, the rest at the deadline). Its clock counts this client's
    quotation requests: the run may make WRITE_EVERY + 40 (2 rankings, then quotes)."""
    stalest = _forget_market_data(database)
    client = rest_client(simulator)
    sent: list[str] = []
    client.session.hooks["response"].append(lambda response, **_: sent.append(response.url))
    quotations = lambda: float(sum("/uapi/" in url for url in sent))  # noqa: E731 (the token issue is /oauth2/)
    allowed = refresh.WRITE_EVERY + 40
    result = refresh.refresh(client, batch_size=2 * allowed, deadline=refresh.Deadline(allowed, quotations))
    assert result.stopped_at_deadline and (result.quoted, result.failed) == (allowed - 2, 0)
    with psycopg.connect(database) as conn:
        quoted = [
            r[0] for r in conn.execute("SELECT symbol FROM companies WHERE listed_shares IS NOT NULL ORDER BY id")
        ]
        priced = conn.execute("SELECT count(*) FROM company_quotes").fetchone()[0]
    assert quoted == stalest[: allowed - 2] and priced == len(result.updated_ids) == result.summary()["updated"]


def test_a_hung_kis_cannot_keep_a_refresh_past_its_deadline(database):
    """A KIS that accepts and never answers: the call in flight is cut to the deadline (alone it
    would wait 10 s per attempt, 5 attempts), and the run says it stopped there, not that KIS failed."""
    with socket.create_server(("127.0.0.1", 0)) as hung:  # the kernel accepts; nobody ever answers
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        client = KisRestClient(url, credentials(), store=MemoryTokenStore(), token_min_interval=0)
        result = refresh.refresh(client, batch_size=10, deadline=refresh.Deadline(1.0))
    assert result.stopped_at_deadline and (result.quoted, result.failed, result.updated_ids) == (0, 0, [])


def _won(cap: int) -> int:
    """A cap as kstock stores it: KIS gives caps in 100 million won."""
    return cap // 100_000_000 * 100_000_000


def test_index_function_stores_kospi_and_kosdaq_history(cloud, database):
    # in KRX hours the template's own schedule may have run the function first: either way the history is in
    result = invoke(cloud, "IndexDataFunction")
    assert result["failed"] == []
    data = requests.get(f"{cloud.http_url}/indices/kosdaq", timeout=10).json()["data"]
    assert data["index"] == "KOSDAQ" and len(data["bars"]) > 200
    assert all(b["low"] <= b["close"] <= b["high"] for b in data["bars"])
    assert data["latest"]["value"] > 0 and data["latest"]["previousClose"] > 0
    again = invoke(cloud, "IndexDataFunction")  # routine runs re-read only recent days
    assert again["dailyRows"] < 3 * 20
    with psycopg.connect(database) as conn:
        duplicated = conn.execute(
            "SELECT count(*) FROM (SELECT index_code, interval, time FROM index_data "
            "GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
        ).fetchone()[0]
    assert duplicated == 0


def test_the_rate_limit_is_shared_by_the_api_instances(cloud):
    """Both API worker processes count in Redis: of 12 concurrent requests with 5 left, 5 pass."""
    user_id = 987_654
    token = tokens.issue(user_id)
    key = keys.rate_limit(f"user:{user_id}")
    # the sliding window already holds all but 5 of the user's requests (stamped with Redis's clock)
    cache.client().eval(
        "local t=redis.call('TIME') local ms=t[1]*1000 for i=1,tonumber(ARGV[1]) do "
        "redis.call('ZADD',KEYS[1],ms,'seed'..i) end redis.call('PEXPIRE',KEYS[1],60000)",
        1,
        key,
        RATE_LIMIT - 5,
    )

    def call(_):
        return requests.get(
            f"{cloud.http_url}/rankings/industries", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(call, range(12)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [429] * 7
    refused = next(a for a in answers if a.status_code == 429)
    assert 50 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert cloud.functions.get("ApiFunction").environments == 2  # two Lambda instances, one limit


def test_schemathesis_finds_no_server_error_and_no_schema_violation(cloud, tmp_path):
    """Property-based requests from the served document (valid and invalid), as a signed-in user."""
    base = cloud.http_url
    email = "schemathesis@example.com"
    requests.post(f"{base}/users/signup", json={"email": email, "username": "st", "password": "Passw0rd!"}, timeout=10)
    token = requests.post(f"{base}/users/login", json={"email": email, "password": "Passw0rd!"}, timeout=10).json()[
        "accessToken"
    ]
    schemathesis = Path(sys.executable).with_name("st")
    command = [
        str(schemathesis),
        "--no-color",
        "run",
        f"{base}/openapi.json",
        "--url",
        base,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,response_headers_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        os.environ.get("KSTOCK_ST_EXAMPLES", "12"),
        "--seed",
        "7",
        "--workers",
        "1",  # 2 threads: a CPython 3.11 ast race in hypothesis
        "--request-timeout",
        "15",
        "--suppress-health-check",
        "all",
        "--exclude-path",
        "/users/logout",  # would revoke the run's token; tested on its own
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    summary = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, summary
    assert "/rankings/companies" in result.stdout or "passed" in result.stdout.lower(), summary
