"""The AI outlook's nightly job (issue 16): after the filings job, the largest companies by market cap
and every industry are queued to AnalysisQueue for today."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kstock.analysis import service
from kstock.logs import get_logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.analysis")


def nightly(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """After the filings job: the largest companies by market cap and every industry, queued for today."""
    queued = service.queue_nightly()
    log.info("nightly analyses queued", extra={"queued": queued})
    return {"queued": queued}
