from chalice.app import Blueprint, Response

from chalicelib.openapi import operation
from chalicelib.web import ok
from kstock import health

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
@operation(
    "Liveness of the API and its data stores",
    tags=["health"],
    response=health.Health,
    responses={
        503: (
            "degraded (a data store or the streamer is down, named in problems) or starting "
            "(the local stack is still loading the market)",
            health.Health,
        )
    },
    rate_limited=False,
)
def get_health() -> Response:
    report = health.check()
    if report.status == "ok":
        return ok(report.wire(), "healthy")
    return ok(report.wire(), "; ".join(report.problems), 503)
