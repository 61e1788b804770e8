"""/companies/{companyId}/analysis and /industries/{industryId}/analysis: the AI outlook (issue 16)."""

from chalice.app import Blueprint, Response

from chalicelib.openapi import ID, operation
from chalicelib.web import ok
from kstock.analysis import service
from kstock.analysis.model import Analysis
from kstock.errors import NotFound
from kstock.validation import parse_id

bp = Blueprint(__name__)

_HOW = (
    "Stored per company (industry) per KST day: a second request the same day costs no LLM call. "
    "The analysis rests only on data kstock holds (financials and their growth, price trend and volatility, "
    "the indicator signal and the latest scan grade, the last 30 days of news, recent filings, themes, the "
    "industry's medians); each driver and risk cites the news, filings or figures it rests on, resolved to "
    "titles and links. "
    "Freshness choice: a company not pre-computed by the nightly job answers at once (never waiting for the "
    "LLM, so it stays inside API Gateway's 29 s) with the rules result and `pending: true` while a worker "
    "asks Gemini; a newcomer sees a traceable analysis immediately, and the AI one replaces it on a later "
    "request (no 202 polling contract to implement). "
    'Without a key, when Gemini fails, or once the daily LLM budget is spent, `model` is "rules" and '
    "`aiGenerated` false: a transparent score of 50 plus each component's shown contribution (revenue and "
    "operating-profit growth, margin trend, momentum, relative strength, news volume) and a summary stating "
    "the figures used; `fallbackReason` says why. `simulated` marks input from the local stand-ins."
)


@bp.route("/companies/{companyId}/analysis", methods=["GET"])
@operation(
    "AI outlook of a company",
    description=_HOW,
    tags=["companies"],
    path={"companyId": ID},
    response=Analysis,
    errors=[NotFound],
)
def get_company_analysis(companyId: str) -> Response:
    found = service.analysis("company", parse_id(companyId, "companyId"))
    return ok(found.wire(), "기업 분석 조회를 성공하였습니다.")


@bp.route("/industries/{industryId}/analysis", methods=["GET"])
@operation(
    "AI outlook of an industry",
    description=_HOW + " An industry's input is its members' medians, its news and its top movers.",
    tags=["industries"],
    path={"industryId": ID},
    response=Analysis,
    errors=[NotFound],
)
def get_industry_analysis(industryId: str) -> Response:
    found = service.analysis("industry", parse_id(industryId, "industryId"))
    return ok(found.wire(), "산업 분석 조회를 성공하였습니다.")
