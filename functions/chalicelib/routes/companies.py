"""/companies: search, detail, financials, filings, news, news keywords and data status (PRD 4.2)."""

from typing import Literal

from chalice.app import Blueprint, Response
from pydantic import Field

from chalicelib.openapi import ID, operation
from chalicelib.web import ok, parse_query
from kstock import datastatus
from kstock.companies import content, detail, service
from kstock.dart import queries
from kstock.errors import NotFound
from kstock.schemas import CamelModel
from kstock.validation import PageQuery, QueryModel, parse_id

bp = Blueprint(__name__)
TAGS = ["companies"]


class SearchQuery(PageQuery):
    keyword: str = Field(
        min_length=1,
        max_length=service.MAX_KEYWORD_LENGTH,
        pattern=r"\S",  # not blank: a keyword of spaces only is refused
        description="Korean or English name (prefix or part of it) or stock code; case-insensitive.",
    )


@bp.route("/companies", methods=["GET"])
@operation("Search companies by name or code", tags=TAGS, query=SearchQuery, response=list[service.CompanySummary])
def search_companies() -> Response:
    """Ranked: exact code, then name prefix, then name substring, then code prefix; larger market
    cap first within a rank. "삼성" finds 삼성전자."""
    query = parse_query(SearchQuery, bp.current_request)
    found = service.search(query.keyword, limit=query.limit, offset=query.offset)
    return ok([c.wire() for c in found], "기업 검색을 완료하였습니다.")


@bp.route("/companies/{companyId}", methods=["GET"])
@operation(
    "Company detail with its last price",
    tags=TAGS,
    path={"companyId": ID},
    response=detail.CompanyDetail,
    errors=[NotFound],
)
def get_company(companyId: str) -> Response:
    """Name, code, market, industry, description, logo, listed shares and market cap (from KIS,
    cached for an hour), and the last price: live from the streamer, else the newest bar, else
    the last KIS quote (``price.source``); null when none is known."""
    company = detail.detail(parse_id(companyId, "companyId"))
    return ok(company.wire(), "기업 정보 조회를 성공하였습니다.")


class FinancialsQuery(PageQuery):
    kind: Literal["yearly", "quarterly"] | None = Field(
        None, description="yearly: full years only (period FY); quarterly: Q1-Q3 only; unset: both."
    )


@bp.route("/companies/{companyId}/financials", methods=["GET"])
@operation(
    "Yearly and quarterly financials",
    tags=TAGS,
    path={"companyId": ID},
    query=FinancialsQuery,
    response=list[queries.FinancialPeriod],
    errors=[NotFound],
)
def get_financials(companyId: str) -> Response:
    """Revenue, operating profit and net income per period from DART's key accounts, the newest year
    first (its full year, then its quarters newest first). ``period`` is FY or the quarter's own
    three months (Q1-Q3); ``fsDiv`` CFS (consolidated) or OFS (separate); ``source`` dart, or
    simulated from the local stand-in. An empty list until DART figures are loaded."""
    query = parse_query(FinancialsQuery, bp.current_request)
    found = queries.financials(parse_id(companyId, "companyId"), query, query.kind)
    return ok([f.wire() for f in found], "재무 지표 조회를 성공하였습니다.")


@bp.route("/companies/{companyId}/reports", methods=["GET"])
@operation(
    "Filings (DART)",
    tags=TAGS,
    path={"companyId": ID},
    query=PageQuery,
    response=list[queries.Filing],
    errors=[NotFound],
)
def get_reports(companyId: str) -> Response:
    """Periodic and major-event filings with their DART viewer links, the newest first; ``source``
    dart, or simulated from the local stand-in."""
    page = parse_query(PageQuery, bp.current_request)
    found = queries.reports(parse_id(companyId, "companyId"), page)
    return ok([r.wire() for r in found], "보고서 조회를 성공하였습니다.")


@bp.route("/companies/{companyId}/news", methods=["GET"])
@operation(
    "News about a company",
    tags=TAGS,
    path={"companyId": ID},
    query=PageQuery,
    response=list[content.NewsItem],
    errors=[NotFound],
)
def get_company_news(companyId: str) -> Response:
    """The newest first."""
    page = parse_query(PageQuery, bp.current_request)
    found = content.company_news(parse_id(companyId, "companyId"), page)
    return ok([n.wire() for n in found], "기업 뉴스 조회를 성공하였습니다.")


class NewsKeyword(CamelModel):
    """One word of the cloud (kstock.news.keywords.Keyword, restated so the API never imports the analyser)."""

    keyword: str
    count: int


class KeywordsQuery(QueryModel):
    days: int = Field(7, ge=1, le=90, description="News of the last this many days (1-90).")
    size: int = Field(50, ge=1, le=100, description="Keywords answered, most frequent first (at most 100).")


@bp.route("/companies/{companyId}/news/keywords", methods=["GET"])
@operation(
    "Keyword frequency of a company's news (word-cloud data)",
    tags=TAGS,
    path={"companyId": ID},
    query=KeywordsQuery,
    response=list[NewsKeyword],
    errors=[NotFound],
)
def get_company_news_keywords(companyId: str) -> Response:
    """Nouns (kiwipiepy) of the company's news of the last ``days`` days, most frequent first, with
    stop-words and the company's own names removed."""
    from kstock.news import keywords  # kiwipiepy: imported by the routes that need it only

    query = parse_query(KeywordsQuery, bp.current_request)
    found = keywords.company_keywords(parse_id(companyId, "companyId"), query.days, query.size)
    return ok([k.wire() for k in found], "기업 뉴스 키워드 조회를 성공하였습니다.")


@bp.route("/companies/{companyId}/data-status", methods=["GET"])
@operation(
    "What kstock holds about a company, and whether its loads are done",
    tags=TAGS,
    path={"companyId": ID},
    response=datastatus.DataStatus,
    errors=[NotFound],
)
def get_data_status(companyId: str) -> Response:
    """Daily bars (count, first and last day), financial periods, filings and news, each with its last
    refresh; ``missing`` names the kinds still loading and ``isComplete`` says none is. Adding a
    favorite or a holding queues the missing loads: poll this until ``isComplete``."""
    found = datastatus.status(parse_id(companyId, "companyId"))
    return ok(found.wire(), "데이터 수집 현황 조회를 성공하였습니다.")
