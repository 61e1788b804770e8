"""Issue 17, finding 8 and the smaller input findings: inputs past the edges answer 400, never 500."""

from __future__ import annotations

import pytest
from support.users import company_id

from kstock.ticks.reads import parse_time


@pytest.mark.parametrize(
    "query",
    [
        {"end": "0001-01-01"},
        {"start": "0001-01-01", "end": "0001-01-02"},
        {"end": "9999-12-31T23:59:59Z"},
        {"start": "1899-12-31T23:59:59Z"},
        {"end": "2101-01-01"},
        {"end": "99999999999"},  # unix seconds in the year 5138
        {"end": "1000-06-01", "interval": "1d"},
    ],
)
def test_times_outside_1900_to_2100_are_invalid_request(api, database, query):
    """``GET /companies/{id}/ohlcv?end=0001-01-01`` was an OverflowError and a 500."""
    status, body, _ = api("GET", f"/companies/{company_id(database, '005930')}/ohlcv", query=query)
    assert (status, body.get("code")) == (400, "INVALID_REQUEST"), body
    assert "1900" in body["message"] or "ISO-8601" in body["message"]


def test_the_edges_of_the_range_are_accepted(api, database):
    path = f"/companies/{company_id(database, '005930')}/ohlcv"
    status, body, _ = api("GET", path, query={"start": "1900-01-01", "end": "1900-02-01", "interval": "1d"})
    assert status == 200, body
    assert body["data"] == []
    assert parse_time("2100-12-31T23:59:59Z", "end") is not None
