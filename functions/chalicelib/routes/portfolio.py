"""/users/portfolio: holdings valued at the last price (seed 002)."""

from chalice.app import Blueprint, Response

from chalicelib.openapi import BIG_ID, operation
from chalicelib.web import current_user, ok, parse_body, parse_query
from kstock import loads
from kstock.errors import NotFound
from kstock.portfolio import service
from kstock.validation import PageQuery, parse_id

bp = Blueprint(__name__)
TAGS = ["portfolio"]


@bp.route("/users/portfolio", methods=["GET"])
@operation(
    "My portfolio: holdings, value and P/L at the last price",
    tags=TAGS,
    auth=True,
    query=PageQuery,
    response=service.Portfolio,
)
def get_portfolio() -> Response:
    """Holdings in the order they were added (paged); totals cover every holding."""
    user = current_user(bp.current_request)
    result = service.portfolio(user.user_id, parse_query(PageQuery, bp.current_request))
    return ok(result.wire(), "포트폴리오 조회를 성공하였습니다.")


@bp.route("/users/portfolio", methods=["POST"])
@operation(
    "Set the holding of a company",
    tags=TAGS,
    auth=True,
    body=service.HoldingRequest,
    response=service.Holding,
    status=201,
    responses={200: ("the holding was replaced", service.Holding)},
    errors=[NotFound],
)
def set_holding() -> Response:
    """Creates the holding (201) or replaces its quantity and average price (200). A new holding of a
    company kstock holds little about gets its data loads queued, as a favorite does."""
    user = current_user(bp.current_request)
    holding, created = service.upsert(user.user_id, parse_body(service.HoldingRequest, bp.current_request))
    if created:
        loads.queue_missing_quietly(holding.company_id)
        return ok(holding.wire(), "포트폴리오에 추가하였습니다.", 201)
    return ok(holding.wire(), "포트폴리오를 수정하였습니다.")


@bp.route("/users/portfolio/{holdingId}", methods=["DELETE"])
@operation("Remove a holding", tags=TAGS, auth=True, path={"holdingId": BIG_ID}, errors=[NotFound])
def delete_holding(holdingId: str) -> Response:
    """Another user's holding is answered like a missing one (404)."""
    user = current_user(bp.current_request)
    service.remove(user.user_id, parse_id(holdingId, "holdingId", maximum=BIG_ID.schema["maximum"]))
    return ok(None, "포트폴리오에서 삭제하였습니다.")


@bp.route("/users/portfolio", methods=["DELETE"])
@operation("Remove the holding of a company", tags=TAGS, auth=True, query=service.CompanyQuery, errors=[NotFound])
def delete_company_holding() -> Response:
    """The same as ``DELETE /users/portfolio/{holdingId}``, by company."""
    user = current_user(bp.current_request)
    service.remove_company(user.user_id, parse_query(service.CompanyQuery, bp.current_request).company_id)
    return ok(None, "포트폴리오에서 삭제하였습니다.")
