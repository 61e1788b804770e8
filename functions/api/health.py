from chalice import Blueprint

from kstock import health
from web import ok

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def get_health():
    report = health.check()
    status = 200 if report.status == "ok" else 503
    return ok(report.wire(), "healthy" if status == 200 else "a dependency is down", status)
