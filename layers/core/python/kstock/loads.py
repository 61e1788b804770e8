"""Queueing data loads: daily history (BackfillQueue), filings and financials (DartQueue), news (NewsQueue).

The scheduled jobs, the first ``kstock up`` and a favorite or holding add send their work here;
the queue workers do it. Queue URLs come from the settings the template sets
(``BACKFILL_QUEUE_URL``, ``DART_QUEUE_URL``, ``NEWS_QUEUE_URL``). A queue that is not configured
(an API run without the local cloud) is skipped with a log line: a load is never more important
than the request that asked for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from kstock import aws, datastatus, db
from kstock.config import get_settings
from kstock.market.calendar import KST
from kstock.ticks.backfill import split_range

if TYPE_CHECKING:  # imported where used: news ingestion loads kiwipiepy, which the REST API never needs
    from kstock.dart.requests import DartRequest
    from kstock.news.ingest import NewsQuery

log = logging.getLogger("kstock.loads")

HISTORY_DAYS = 729  # two one-year backfill requests per company, as the first `kstock up` loads
SQS_BATCH = 10  # SendMessageBatch takes at most ten entries


class QueueError(RuntimeError):
    """SQS refused some messages of a batch."""


def send(queue_url: str, bodies: Iterable[Mapping[str, Any]]) -> int:
    """Send every body (as JSON) in batches of ten; how many were sent."""
    sqs = aws.client("sqs")
    messages = [json.dumps(body, ensure_ascii=False) for body in bodies]
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        answer = sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(n), "MessageBody": m} for n, m in enumerate(chunk)]
        )
        if answer.get("Failed"):
            raise QueueError(f"SQS refused {len(answer['Failed'])} message(s): {answer['Failed'][0]}")
    return len(messages)


def _queue(url: str | None, name: str, bodies: Sequence[Mapping[str, Any]]) -> int:
    if not bodies:
        return 0
    if url is None:
        log.warning("%s is not configured: %d load message(s) not queued", name, len(bodies))
        return 0
    return send(url, bodies)


def queue_news(queries: Sequence[NewsQuery]) -> int:
    return _queue(get_settings().news_queue_url, "NEWS_QUEUE_URL", [q.message() for q in queries])


def queue_dart(requests: Sequence[DartRequest]) -> int:
    return _queue(get_settings().dart_queue_url, "DART_QUEUE_URL", [r.message() for r in requests])


def backfill_messages(symbols: Sequence[str], days: int = HISTORY_DAYS) -> list[dict[str, str]]:
    """One request per symbol and year of history, the newest year first (a chart is useful sooner)."""
    end = datetime.now(KST).date()
    pieces = split_range(end - timedelta(days=days), end)
    return [
        {"symbol": s, "start": start.isoformat(), "end": stop.isoformat()}
        for s in symbols
        for start, stop in reversed(pieces)
    ]


def queue_backfill(symbols: Sequence[str], days: int = HISTORY_DAYS) -> int:
    return _queue(get_settings().backfill_queue_url, "BACKFILL_QUEUE_URL", backfill_messages(symbols, days))


@dataclass
class QueuedLoads:
    company_id: int
    kinds: list[str] = field(default_factory=list)  # data-status kinds a load was queued for
    messages: int = 0


def queue_missing(company_id: int) -> QueuedLoads:
    """Queue a load of every kind of data the company lacks (:mod:`kstock.datastatus`)."""
    current = datastatus.status(company_id)
    queued = QueuedLoads(company_id)
    missing = set(current.missing)
    if datastatus.DAILY_BARS in missing:
        queued.messages += _count(queued, datastatus.DAILY_BARS, queue_backfill([current.symbol]))
    parts: list[Literal["filings", "financials"]] = [p for p in ("filings", "financials") if p in missing]
    if parts:
        from kstock.dart.requests import requests_for

        requests = requests_for([current.symbol], parts=parts)
        queued.messages += _count(queued, "+".join(parts), queue_dart(requests))
    if datastatus.NEWS in missing:
        from kstock.news.ingest import NewsQuery

        with db.read() as conn:
            row: Any = conn.execute("SELECT name FROM companies WHERE id = %s", (company_id,)).fetchone()
        queued.messages += _count(queued, datastatus.NEWS, queue_news([NewsQuery("company", company_id, row["name"])]))
    return queued


def _count(queued: QueuedLoads, kind: str, sent: int) -> int:
    if sent:
        queued.kinds.append(kind)
    return sent


def queue_missing_quietly(company_id: int) -> QueuedLoads | None:
    """:func:`queue_missing` for a request that already succeeded (a favorite or holding was stored):
    a queueing failure is logged, never turned into an error answer."""
    try:
        queued = queue_missing(company_id)
    except Exception:  # SQS being down must not undo the user's favorite
        log.exception("could not queue the data loads of company %d", company_id)
        return None
    if queued.messages:
        log.info("queued data loads", extra={"company_id": company_id, "kinds": queued.kinds})
    return queued
