"""Live-price operations: ``GET /ws/metrics`` (seed 001 section 8)."""

from chalice.app import Blueprint, Response

from chalicelib.openapi import operation
from chalicelib.web import ok
from kstock.errors import StreamUnavailable
from kstock.realtime import metrics

bp = Blueprint(__name__)


@bp.route("/ws/metrics", methods=["GET"])
@operation("WebSocket fan-out metrics", tags=["realtime"], response=metrics.WsMetrics, errors=[StreamUnavailable])
def ws_metrics() -> Response:
    """Connections, subscriptions per symbol, messages and ``@connections`` calls per delivery mode
    (with the calls one message per tick would have made), 410s, throttles, the last broadcast
    time, KIS slots used / limit and the symbols polled over REST instead. From the streamer's
    status in Redis (refreshed every second); ``streamerRunning`` is false when it has not reported
    for 10 s."""
    return ok(metrics.collect().wire(), "WebSocket 메트릭 조회를 완료하였습니다.")
