"""/industries/{industryId}/news (PRD 4.5; the AI outlook comes with the analysis issue)."""

from chalice.app import Blueprint, Response

from chalicelib.openapi import ID, operation
from chalicelib.web import ok, parse_query
from kstock.companies import content
from kstock.errors import NotFound
from kstock.validation import PageQuery, parse_id

bp = Blueprint(__name__)


@bp.route("/industries/{industryId}/news", methods=["GET"])
@operation(
    "News about an industry",
    tags=["industries"],
    path={"industryId": ID},
    query=PageQuery,
    response=list[content.NewsItem],
    errors=[NotFound],
)
def get_industry_news(industryId: str) -> Response:
    """The newest first."""
    page = parse_query(PageQuery, bp.current_request)
    found = content.industry_news(parse_id(industryId, "industryId"), page)
    return ok([n.wire() for n in found], "산업 뉴스 조회를 성공하였습니다.")
