"""/companies/{companyId}/indicators: indicator series, latest values and the combined signal (seed 002)."""

from typing import Literal

from chalice.app import Blueprint, Response
from pydantic import Field

from chalicelib.openapi import ID, operation
from chalicelib.web import ok, parse_query
from kstock.errors import NotFound
from kstock.indicators import service
from kstock.ticks.reads import parse_time
from kstock.validation import QueryModel, parse_id

bp = Blueprint(__name__)


class IndicatorsQuery(QueryModel):
    interval: Literal["1d"] = Field("1d", description="Bar length (daily bars only).")
    start: str | None = Field(None, description="ISO-8601 time (UTC unless a zone is given) or unix seconds.")
    end: str | None = Field(None, description="ISO-8601 time or unix seconds; default now.")


@bp.route("/companies/{companyId}/indicators", methods=["GET"])
@operation(
    "Technical indicators and the combined signal of a company",
    tags=["companies"],
    path={"companyId": ID},
    query=IndicatorsQuery,
    response=service.Indicators,
    errors=[NotFound],
)
def get_indicators(companyId: str) -> Response:
    """SMA(20), EMA(20), RSI(14), MACD(12, 26, 9), Bollinger(20, 2), slow stochastic(14, 3, 3), OBV and
    ATR(14) per day of ``[start, end]`` (default: the last year), computed as TA-Lib does over every stored
    daily bar up to ``end`` (so a window's values never depend on its start); ``latest`` the last day;
    ``signal`` each indicator's vote on the last day and their combined score (-100..100) and label."""
    query = parse_query(IndicatorsQuery, bp.current_request)
    found = service.company_indicators(
        parse_id(companyId, "companyId"), query.interval, parse_time(query.start, "start"), parse_time(query.end, "end")
    )
    return ok(found.wire(), "기술적 지표 조회를 성공하였습니다.")
