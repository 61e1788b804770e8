"""GET /companies/{id}/indicators: series, latest values and signal from stored daily bars (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from support.users import company_id

from kstock.indicators import rsi, signal, sma

SYMBOL = "000660"
DAYS = 300
FIRST_DAY = datetime(2025, 1, 1, 15, 0, tzinfo=UTC)  # 00:00 KST of 2025-01-02


def _walk(days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(15)
    close = np.round(50_000 * np.exp(np.cumsum(rng.normal(0, 0.02, days))), -1)
    high = close + np.round(rng.uniform(0, 800, days), -1)
    low = close - np.round(rng.uniform(0, 800, days), -1)
    volume = rng.integers(0, 2_000_000, days).astype(float)
    volume[10] = 0  # a day without trades
    return high, low, close, volume


@pytest.fixture
def stored_bars(database):
    high, low, close, volume = _walk(DAYS)
    days = [FIRST_DAY + timedelta(days=i) for i in range(DAYS)]
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM ohlcv_1d WHERE symbol = %s", (SYMBOL,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ohlcv_1d (symbol, bucket, open, high, low, close, volume, amount, trade_count) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, NULL)",
                [(SYMBOL, d, c, h, lo, c, v) for d, h, lo, c, v in zip(days, high, low, close, volume, strict=True)],
            )
    yield days, (high, low, close, volume)
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM ohlcv_1d WHERE symbol = %s", (SYMBOL,))


def _close_to(a: float | None, b: float) -> bool:
    if a is None:
        return bool(np.isnan(b))
    return bool(abs(a - b) <= 1e-9 * max(1.0, abs(b)))


def test_series_latest_and_signal_equal_the_batch_functions(api, database, stored_bars):
    days, (high, low, close, volume) = stored_bars
    company = company_id(database, SYMBOL)
    start, end = days[100], days[DAYS - 1]
    status, body, _ = api(
        "GET", f"/companies/{company}/indicators", query={"start": start.isoformat(), "end": end.isoformat()}
    )
    assert status == 200, body
    data = body["data"]
    assert (data["companyId"], data["symbol"], data["interval"], data["barsUsed"]) == (company, SYMBOL, "1d", DAYS)
    series = data["series"]
    assert [p["time"] for p in series] == [int(d.timestamp()) for d in days[100:]]
    expected_rsi, expected_sma = rsi(close), sma(close)
    for offset, point in enumerate(series):
        i = 100 + offset
        assert point["close"] == close[i]
        assert _close_to(point["rsi"], expected_rsi[i]) and _close_to(point["sma"], expected_sma[i])
    assert data["latest"] == series[-1]
    assert set(data["latest"]) >= {
        "macd",
        "macdSignal",
        "macdHist",
        "bollingerUpper",
        "bollingerLower",
        "stochK",
        "stochD",
        "obv",
        "atr",
        "ema",
    }
    combined = signal(high, low, close, volume)
    assert _close_to(data["signal"]["score"], combined.score[-1])
    assert data["signal"]["label"] == combined.labels[-1]
    assert {k: v for k, v in data["signal"]["votes"].items()} == {
        name: (None if np.isnan(v[-1]) else v[-1]) for name, v in combined.votes.items()
    }


def test_a_window_does_not_change_the_values_and_warm_up_is_null(api, database, stored_bars):
    days, _ = stored_bars
    company = company_id(database, SYMBOL)
    whole = api(
        "GET", f"/companies/{company}/indicators", query={"start": days[0].isoformat(), "end": days[-1].isoformat()}
    )[1]["data"]["series"]
    assert whole[0]["sma"] is None and whole[18]["sma"] is None and whole[19]["sma"] is not None
    assert whole[13]["rsi"] is None and whole[14]["rsi"] is not None
    part = api(
        "GET",
        f"/companies/{company}/indicators",
        query={"start": str(int(days[200].timestamp())), "end": str(int(days[250].timestamp()))},
    )[1]["data"]
    assert part["series"] == whole[200:251]
    assert part["barsUsed"] == 251  # the bars up to end, not only the window's


def test_a_company_without_bars_answers_empty_and_neutral(api, database):
    company = company_id(database, "005380")
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM ohlcv_1d WHERE symbol = '005380'").fetchone()[0] == 0
    data = api("GET", f"/companies/{company}/indicators")[1]["data"]
    assert (data["series"], data["latest"], data["signal"]["label"], data["signal"]["score"]) == (
        [],
        None,
        "neutral",
        None,
    )


@pytest.mark.parametrize(
    ("path", "query", "status", "code"),
    [
        ("/companies/999999/indicators", {}, 404, "NOT_FOUND"),
        ("/companies/abc/indicators", {}, 400, "INVALID_REQUEST"),
        ("/companies/{id}/indicators", {"interval": "1h"}, 400, "INVALID_REQUEST"),
        ("/companies/{id}/indicators", {"start": "yesterday"}, 400, "INVALID_REQUEST"),
        ("/companies/{id}/indicators", {"start": "2025-02-01", "end": "2025-01-01"}, 400, "INVALID_REQUEST"),
    ],
)
def test_errors_use_the_envelope(api, database, path, query, status, code):
    answer, body, _ = api("GET", path.format(id=company_id(database, SYMBOL)), query=query)
    assert (answer, body["status"], body["code"]) == (status, status, code)
