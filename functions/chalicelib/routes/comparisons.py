"""/comparisons: a user's saved company comparisons (PRD 4.4)."""

from chalice.app import Blueprint, Response

from chalicelib.openapi import BIG_ID, operation
from chalicelib.web import current_user, ok, parse_body, parse_query
from kstock.comparisons import service
from kstock.errors import NotFound
from kstock.validation import MAX_BIG_ID, PageQuery, parse_id

bp = Blueprint(__name__)
TAGS = ["comparisons"]


@bp.route("/comparisons", methods=["GET"])
@operation("My comparisons", tags=TAGS, auth=True, query=PageQuery, response=list[service.Comparison])
def list_comparisons() -> Response:
    """Newest first."""
    user = current_user(bp.current_request)
    found = service.list_mine(user.user_id, parse_query(PageQuery, bp.current_request))
    return ok([c.wire() for c in found], "비교 목록 조회를 성공하였습니다.")


@bp.route("/comparisons", methods=["POST"])
@operation(
    "Save a comparison of 2 to 10 companies",
    tags=TAGS,
    auth=True,
    body=service.ComparisonRequest,
    response=service.Comparison,
    status=201,
)
def create_comparison() -> Response:
    """Unknown or repeated company ids, fewer than 2 or more than 10: 400 INVALID_REQUEST."""
    user = current_user(bp.current_request)
    comparison = service.create(user.user_id, parse_body(service.ComparisonRequest, bp.current_request))
    return ok(comparison.wire(), "비교가 생성되었습니다.", 201)


@bp.route("/comparisons/{comparisonId}", methods=["GET"])
@operation(
    "A comparison with its companies' key figures side by side",
    tags=TAGS,
    auth=True,
    path={"comparisonId": BIG_ID},
    response=service.ComparisonDetail,
    errors=[NotFound],
)
def get_comparison(comparisonId: str) -> Response:
    """Price and change, market cap, PER/PBR where known, the latest yearly revenue and operating
    profit. Another user's comparison is answered like a missing one (404)."""
    user = current_user(bp.current_request)
    found = service.detail(user.user_id, parse_id(comparisonId, "comparisonId", maximum=MAX_BIG_ID))
    return ok(found.wire(), "비교 상세 조회를 성공하였습니다.")
