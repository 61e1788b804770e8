"""The daily 15:40 KST scan (issue 15): the whole market, every symbol graded, chunks to ScanQueue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kstock.logs import get_logger
from kstock.scans import service

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.scans")

# The daily scan: the whole market, every symbol graded; the top 30 answered by score.
DAILY_REQUEST = service.ScanRequest(market="ALL", exclude_elw=True, max_tickers=service.MAX_TICKERS, top_n=30)


def daily(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One ALL scan per trading day (a second firing on the same day finds the run and queues nothing)."""
    scan_id = service.start_scan(DAILY_REQUEST, trigger="schedule")
    log.info("daily scan started", extra={"scan_id": scan_id})
    return {"scanId": scan_id}
