"""/rankings: companies by market cap, industries, companies of an industry (PRD 4.7).
Cached for 5 minutes and dropped whenever market data is refreshed."""

from collections.abc import Sequence

from chalice.app import Blueprint, Response

from chalicelib.openapi import ID, operation
from chalicelib.web import ok, parse_query
from kstock.errors import NotFound
from kstock.rankings import service
from kstock.schemas import CamelModel
from kstock.validation import PageQuery, parse_id

bp = Blueprint(__name__)
TAGS = ["rankings"]


def _answer(items: Sequence[CamelModel], hit: bool, message: str) -> Response:
    response = ok([i.wire() for i in items], message)
    response.headers["X-Cache"] = "hit" if hit else "miss"
    return response


@bp.route("/rankings/companies", methods=["GET"])
@operation("Companies by market cap", tags=TAGS, query=service.RankingQuery, response=list[service.RankedCompany])
def rank_companies() -> Response:
    """Market caps from KIS (MarketDataFunction); companies without a known cap come last."""
    items, hit = service.companies(parse_query(service.RankingQuery, bp.current_request))
    return _answer(items, hit, "기업 시가총액 순위 조회를 성공하였습니다.")


@bp.route("/rankings/industries", methods=["GET"])
@operation(
    "Industries by total market cap, with their average change",
    tags=TAGS,
    query=PageQuery,
    response=list[service.RankedIndustry],
)
def rank_industries() -> Response:
    items, hit = service.industries(parse_query(PageQuery, bp.current_request))
    return _answer(items, hit, "산업 순위 조회를 성공하였습니다.")


@bp.route("/rankings/industries/{industryId}/companies", methods=["GET"])
@operation(
    "Companies of an industry by market cap",
    tags=TAGS,
    path={"industryId": ID},
    query=PageQuery,
    response=list[service.RankedCompany],
    errors=[NotFound],
)
def rank_industry_companies(industryId: str) -> Response:
    industry_id = parse_id(industryId, "industryId")
    items, hit = service.industry_companies(industry_id, parse_query(PageQuery, bp.current_request))
    return _answer(items, hit, "산업 내 기업 순위 조회를 성공하였습니다.")
