from chalice import Blueprint

from kstock.companies import service
from web import ok, page_params

bp = Blueprint(__name__)


@bp.route("/companies", methods=["GET"])
def search_companies():
    query = bp.current_request.query_params or {}
    limit, offset = page_params(query)
    found = service.search(query.get("keyword"), limit=limit, offset=offset)
    return ok([c.wire() for c in found], "기업 검색을 완료하였습니다.")
