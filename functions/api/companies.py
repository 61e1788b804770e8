"""/companies: search, detail, financials, filings and news (PRD 4.2)."""

from chalice import Blueprint
from pydantic import Field

from kstock.companies import content, detail, service
from kstock.errors import NotFound
from kstock.validation import PageQuery, parse_id
from openapi import ID, operation
from web import ok, parse_query

bp = Blueprint(__name__)
TAGS = ["companies"]


class SearchQuery(PageQuery):
    keyword: str = Field(max_length=service.MAX_KEYWORD_LENGTH,
                         description="Korean or English name (prefix or part of it) or stock code; case-insensitive.")


@bp.route("/companies", methods=["GET"])
@operation("Search companies by name or code", tags=TAGS, query=SearchQuery, response=list[service.CompanySummary])
def search_companies():
    """Ranked: exact code, then name prefix, then name substring, then code prefix; larger market
    cap first within a rank. "삼성" finds 삼성전자."""
    query = parse_query(SearchQuery, bp.current_request)
    found = service.search(query.keyword, limit=query.limit, offset=query.offset)
    return ok([c.wire() for c in found], "기업 검색을 완료하였습니다.")


@bp.route("/companies/{companyId}", methods=["GET"])
@operation("Company detail with its last price", tags=TAGS, path={"companyId": ID}, response=detail.CompanyDetail,
           errors=[NotFound])
def get_company(companyId):
    """Name, code, market, industry, description, logo, listed shares and market cap (from KIS,
    cached for an hour), and the last price: live from the streamer, else the newest bar, else
    the last KIS quote (``price.source``); null when none is known."""
    company = detail.detail(parse_id(companyId, "companyId"))
    return ok(company.wire(), "기업 정보 조회를 성공하였습니다.")


@bp.route("/companies/{companyId}/financials", methods=["GET"])
@operation("Yearly financials", tags=TAGS, path={"companyId": ID}, query=PageQuery,
           response=list[content.Financials], errors=[NotFound])
def get_financials(companyId):
    """Revenue, operating profit and net income per fiscal year (DART), the latest year first. An
    empty list until DART figures are loaded: figures are never invented."""
    page = parse_query(PageQuery, bp.current_request)
    found = content.financials(parse_id(companyId, "companyId"), page)
    return ok([f.wire() for f in found], "재무 지표 조회를 성공하였습니다.")


@bp.route("/companies/{companyId}/reports", methods=["GET"])
@operation("Periodic filings", tags=TAGS, path={"companyId": ID}, query=PageQuery, response=list[content.Report],
           errors=[NotFound])
def get_reports(companyId):
    """DART filings with their links, the newest first."""
    page = parse_query(PageQuery, bp.current_request)
    found = content.reports(parse_id(companyId, "companyId"), page)
    return ok([r.wire() for r in found], "보고서 조회를 성공하였습니다.")


@bp.route("/companies/{companyId}/news", methods=["GET"])
@operation("News about a company", tags=TAGS, path={"companyId": ID}, query=PageQuery,
           response=list[content.NewsItem], errors=[NotFound])
def get_company_news(companyId):
    """The newest first."""
    page = parse_query(PageQuery, bp.current_request)
    found = content.company_news(parse_id(companyId, "companyId"), page)
    return ok([n.wire() for n in found], "기업 뉴스 조회를 성공하였습니다.")
