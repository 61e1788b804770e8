"""News (issue 13): the run's NewsQueue messages (kstock.news.schedule); NewsIngestFunction fetches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kstock import db, loads
from kstock.config import get_settings
from kstock.logs import get_logger
from kstock.news.schedule import scheduled_queries

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.jobs")


def schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """The largest companies, every industry and the next companies in turn, one NewsQueue message
    each: NewsIngestFunction fetches and stores."""
    settings = get_settings()
    with db.read() as conn:
        queries = scheduled_queries(
            conn, now=datetime.now(UTC), top=settings.news_top_companies, rotating=settings.news_rotating_companies
        )
    sent = loads.queue_news(queries)
    log.info("news queries queued", extra={"queries": len(queries), "sent": sent})
    return {"queries": len(queries), "sent": sent}
