"""``GET /companies/{companyId}/orderbook``: the company's order book (호가, issue 18 item 1)."""

from chalice.app import Blueprint, Response

from chalicelib.openapi import ID, operation
from chalicelib.web import ok
from kstock.companies import detail
from kstock.errors import NotFound
from kstock.marketdata import orderbook
from kstock.validation import parse_id

bp = Blueprint(__name__)


@bp.route("/companies/{companyId}/orderbook", methods=["GET"])
@operation(
    "Order book of a company",
    tags=["companies", "realtime"],
    path={"companyId": ID},
    response=orderbook.OrderBookAnswer,
    errors=[NotFound],
)
def get_orderbook(companyId: str) -> Response:
    """Ten ask and ten bid levels (asks ascending from the best, bids descending), their totals and
    when the book was current. The streamer's latest (``source`` ws) while a WebSocket client
    subscribes to the symbol's book, else a KIS REST snapshot (``source`` poll), cached a few
    seconds. When neither has one (KIS not answering) ``source`` is null and the levels empty.
    404 for an unknown company or an ELW."""
    company_id = parse_id(companyId, "companyId")
    company, _ = detail.info(company_id)
    book = orderbook.company_book(company_id, company.symbol)
    return ok(book.wire(), "호가 조회를 성공하였습니다.")
