"""/scans: full-market trend-template / VCP scans (seed 001 section 4, issue 15)."""

from chalice.app import Blueprint, Response

from chalicelib.openapi import ID, operation
from chalicelib.web import ok, parse_body
from kstock.errors import NotFound
from kstock.scans import answers, service
from kstock.schemas import CamelModel
from kstock.validation import parse_id

bp = Blueprint(__name__)
TAGS = ["scans"]


class ScanStarted(CamelModel):
    scan_id: int


@bp.route("/scans", methods=["POST"])
@operation(
    "Start a scan",
    tags=TAGS,
    body=service.ScanRequest,
    response=ScanStarted,
    status=202,
)
def start_scan() -> Response:
    """Selects the universe (market, ELW excluded, minimum market cap, the ``maxTickers`` largest by
    market cap), computes the universe's weighted returns for the RS rank and queues chunks of symbols
    that workers analyse: trend template, RS rank, VCP, smart money, total score, grade A-D, entry,
    stop and target. Poll ``GET /scans/{scanId}`` for progress and the results."""
    request = parse_body(service.ScanRequest, bp.current_request)
    scan_id = service.start_scan(request)
    return ok(ScanStarted(scan_id=scan_id).wire(), "스캔을 시작하였습니다.", status=202)


@bp.route("/scans/latest", methods=["GET"])
@operation("The last completed scan", tags=TAGS, response=answers.ScanAnswer, errors=[NotFound])
def latest_scan() -> Response:
    """As ``GET /scans/{scanId}`` for the run that completed last (the daily 15:40 KST scan or a
    requested one); NOT_FOUND before any has completed."""
    return ok(answers.latest_answer().wire(), "최근 스캔 결과 조회를 성공하였습니다.")


@bp.route("/scans/{scanId}", methods=["GET"])
@operation(
    "A scan's status, progress and results",
    tags=TAGS,
    path={"scanId": ID},
    response=answers.ScanAnswer,
    errors=[NotFound],
)
def get_scan(scanId: str) -> Response:
    """``status`` running, done or failed; ``progress`` in chunks and symbols. Once done:
    ``totalScanned``, ``validSignals`` (grades A-C), ``returned``, ``filters`` and ``results``, the
    best ``topN`` by ``sortBy`` / ``sortOrder`` of every graded symbol."""
    answer = answers.scan_answer(parse_id(scanId, "scanId"))
    return ok(answer.wire(), "스캔 결과 조회를 성공하였습니다.")
