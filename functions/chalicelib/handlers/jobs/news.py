"""News (issue 13): one NewsQueue message per company and industry; NewsIngestFunction fetches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kstock import db, loads
from kstock.logs import get_logger
from kstock.news.ingest import queries_for

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.jobs")


def schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """One NewsQueue message per company and industry: NewsIngestFunction fetches and stores."""
    with db.read() as conn:
        queries = queries_for(conn)
    sent = loads.queue_news(queries)
    log.info("news queries queued", extra={"queries": len(queries), "sent": sent})
    return {"queries": len(queries), "sent": sent}
