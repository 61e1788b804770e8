"""/indices/kospi and /indices/kosdaq: history and the latest value (PRD 4.6)."""

from typing import Literal

from chalice.app import Blueprint, Response

from chalicelib.openapi import operation
from chalicelib.web import ok, parse_query
from kstock.indices import service

bp = Blueprint(__name__)


def _series(code: Literal["KOSPI", "KOSDAQ"]) -> Response:
    query = parse_query(service.IndexQuery, bp.current_request)
    return ok(service.series(code, query).wire(), f"{code} 지수 조회를 성공하였습니다.")


@bp.route("/indices/kospi", methods=["GET"])
@operation("KOSPI history and latest value", tags=["indices"], query=service.IndexQuery, response=service.IndexSeries)
def kospi() -> Response:
    """Daily (1d) or minute (1m) values in [start, end), ascending, from KIS (IndexDataFunction)."""
    return _series("KOSPI")


@bp.route("/indices/kosdaq", methods=["GET"])
@operation("KOSDAQ history and latest value", tags=["indices"], query=service.IndexQuery, response=service.IndexSeries)
def kosdaq() -> Response:
    """Daily (1d) or minute (1m) values in [start, end), ascending, from KIS (IndexDataFunction)."""
    return _series("KOSDAQ")
