"""Prices: OHLCV bars of a company and the polling fallback for live prices (PRD 4.2.2, seed 001 §5)."""

from typing import Literal

from chalice.app import Blueprint, Response
from pydantic import Field

from chalicelib.openapi import ID, operation
from chalicelib.web import ok, parse_query
from kstock.errors import NotFound, StreamUnavailable
from kstock.realtime import polling
from kstock.ticks import reads
from kstock.validation import QueryModel, parse_id

bp = Blueprint(__name__)


class OhlcvQuery(QueryModel):
    interval: Literal["1m", "15m", "1h", "1d"] = Field("1d", description="Bar length.")
    start: str | None = Field(None, description="ISO-8601 time (UTC unless a zone is given) or unix seconds.")
    end: str | None = Field(None, description="ISO-8601 time or unix seconds; default now.")


@bp.route("/companies/{companyId}/ohlcv", methods=["GET"])
@operation(
    "OHLCV bars of a company",
    tags=["companies"],
    path={"companyId": ID},
    query=OhlcvQuery,
    response=list[reads.OhlcvBar],
    errors=[NotFound],
)
def get_ohlcv(companyId: str) -> Response:
    """Bars of ``[start, end]`` in time order, ``time`` = bucket start in unix seconds. The current,
    still-open bucket is computed live from the ticks, so a chart is never a minute behind. 1d bars
    start at 00:00 KST. Without ``start``: the last day of 1m, week of 15m, month of 1h, year of 1d."""
    query = parse_query(OhlcvQuery, bp.current_request)
    found = reads.company_bars(
        parse_id(companyId, "companyId"),
        query.interval,
        reads.parse_time(query.start, "start"),
        reads.parse_time(query.end, "end"),
    )
    return ok(found, "과거 주가 데이터 조회를 성공하였습니다.")


class PollingQuery(QueryModel):
    tickers: str = Field(
        min_length=1,
        max_length=polling.MAX_TICKERS * 8,
        description=f"Comma-separated codes (at most {polling.MAX_TICKERS}), e.g. 005930,57LA24.",
    )
    include_elw: bool = Field(True, description="Price ELW codes too (false: they are listed in skipped).")
    cache_ttl: int = Field(10, ge=1, le=300, description="Seconds a price fetched from KIS stays cached.")


@bp.route("/realtime-prices/polling", methods=["GET"])
@operation(
    "Latest prices by polling",
    tags=["realtime"],
    query=PollingQuery,
    response=polling.PollingAnswer,
    errors=[StreamUnavailable],
)
def poll_prices() -> Response:
    """Redis first (the streamer keeps ``price:{symbol}`` fresh), KIS REST for the misses. For
    clients that cannot hold a WebSocket and for codes KIS cannot stream. ``isRealtime`` is true
    for prices that came from the live trade stream. Invalid codes answer 400 naming them."""
    query = parse_query(PollingQuery, bp.current_request)
    answer = polling.poll(query.tickers, include_elw=query.include_elw, cache_ttl=query.cache_ttl)
    return ok(answer.wire(), "실시간 가격 조회를 완료하였습니다.")
