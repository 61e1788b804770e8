from chalice import Blueprint

from kstock import health
from openapi import operation
from web import ok

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
@operation("Liveness of the API and its data stores", tags=["health"], response=health.Health,
           responses={503: ("a data store is down (degraded)", health.Health)}, rate_limited=False)
def get_health():
    report = health.check()
    status = 200 if report.status == "ok" else 503
    return ok(report.wire(), "healthy" if status == 200 else "a dependency is down", status)
