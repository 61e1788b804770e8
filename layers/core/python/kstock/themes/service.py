"""Theme sync's two steps, as the Lambdas run them: :func:`poll` (rank watch, every minute) and
:func:`classify_entrant` (one ThemeClassifyQueue message), and the broadcast both end with.

Idempotency is our own table (``theme_classifications``), not Powertools' idempotency utility:
the key is the symbol, the KST day and a digest of the headlines the classifier *read*, which are
known only after the worker fetched the news (Powertools keys on the event payload, before any
work); the answer must be committed in the same Postgres transaction as the membership it
produces (Powertools would need its own DynamoDB table, and a crash between the two stores would
leave them disagreeing); and the stored answer is data the API and the metrics read back. A
redelivered message finds its answer there and re-applies it without calling the LLM.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from redis.exceptions import RedisError

from kstock import cache, db, keys
from kstock.config import get_settings
from kstock.llm import GeminiClient
from kstock.market.calendar import KST
from kstock.themes import metrics, store
from kstock.themes.classify import Classification, classify, idempotency_key
from kstock.themes.rankwatch import ClassifyRequest, Ranked, WatchResult, fetch_ranking, replace_top_set, watch

log = logging.getLogger("kstock.themes.service")

NewsFetcher = Callable[[int, str], None]  # (company id, name): fetch and store the company's news
Sender = Callable[[Sequence[ClassifyRequest]], int]


def now_utc() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


# -- rank watch -----------------------------------------------------------------------------------------


def queue_requests(requests: Sequence[ClassifyRequest]) -> int:
    """Send to ThemeClassifyQueue (``THEME_CLASSIFY_QUEUE_URL``); nothing is sent when it is not set."""
    from kstock import loads

    url = get_settings().theme_classify_queue_url
    if not requests:
        return 0
    if url is None:
        log.warning("THEME_CLASSIFY_QUEUE_URL is not configured: %d classification(s) not queued", len(requests))
        return 0
    return loads.send(url, [r.message() for r in requests])


def poll(
    ranking: Sequence[Ranked] | None = None,
    *,
    client: Any = None,
    now: datetime | None = None,
    send: Sender = queue_requests,
) -> WatchResult:
    """One rank-watch run: the ranking (``ranking`` or fetched with the KIS ``client``) recorded,
    due classifications queued inside the transaction (a failed send rolls the marks back), the
    top-30 set replaced, and the themes whose members' in-ranking marks changed broadcast."""
    settings = get_settings()
    moment = now or now_utc()
    rows = list(ranking) if ranking is not None else fetch_ranking(client)
    with db.transaction() as conn:
        result = watch(
            conn,
            rows,
            moment,
            debounce_seconds=settings.theme_sync_debounce_seconds,
            retry_seconds=settings.theme_retry_seconds,
        )
        send(result.requests)
        changed = sorted(set(result.marked_themes) | set(result.deactivated))
        update = store.blocks(conn, changed, moment) if changed else []
    result.entered, result.left = replace_top_set(result.top)
    if update:
        publish(update)
    return result


# -- classification ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    request: ClassifyRequest
    classification: Classification
    key: str
    replayed: bool  # a stored answer was re-applied: no classifier ran
    theme_ids: list[int] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)


def fetch_company_news(company_id: int, name: str) -> None:
    """The news worker's work for one company, on demand (Naver, or its stand-in without keys)."""
    from kstock.datastatus import NEWS, mark_refreshed
    from kstock.news.ingest import NewsQuery, ingest
    from kstock.news.naver import NaverNewsClient

    with NaverNewsClient.from_settings() as naver:
        ingest(NewsQuery("company", company_id, name), naver)
    with db.transaction() as conn:
        mark_refreshed(conn, [company_id], NEWS)


def _refresh_news(symbol: str, now: datetime, fetch: NewsFetcher) -> None:
    """Fetch the entrant's news first when the stored news is older than THEME_NEWS_MAX_AGE_SECONDS.
    A Naver failure is logged: the classification goes on with what is stored (rules or 미분류)."""
    from kstock.news.errors import NaverError

    with db.read() as conn:
        company: Any = conn.execute("SELECT id, name FROM companies WHERE symbol = %s", (symbol,)).fetchone()
        if company is None:
            raise store.UnknownSymbol(f"no listed company has the symbol {symbol!r}")
        refreshed = store.news_refreshed_at(conn, company["id"])
    if refreshed is not None and now - refreshed < timedelta(seconds=get_settings().theme_news_max_age_seconds):
        return
    try:
        fetch(int(company["id"]), company["name"])
    except NaverError as exc:
        log.warning("entrant news not refreshed", extra={"symbol": symbol, "error": type(exc).__name__})


def request_key(request: ClassifyRequest, entrant_headlines: Sequence[Any]) -> str:
    """The idempotency key of one delivery: the request's own day (a message delivered after
    midnight is still that day's), and an attempt suffix for deliberate re-classifications."""
    at = datetime.combine(request.day, time(12), tzinfo=KST)
    key = idempotency_key(request.symbol, entrant_headlines, at)
    return f"{key}:a{request.attempt}" if request.attempt else key


def classify_entrant(
    request: ClassifyRequest,
    *,
    llm: GeminiClient | None = None,
    use_llm: bool = True,
    fetch_news: NewsFetcher = fetch_company_news,
    now: datetime | None = None,
) -> Outcome:
    """Classify one entrant once: news refreshed when stale, the stored answer when this delivery
    was answered before, else the chain LLM -> rules -> 미분류; stored, applied and broadcast."""
    moment = now or now_utc()
    _refresh_news(request.symbol, moment, fetch_news)
    with db.read() as conn:
        company_id, entrant = store.entrant_of(conn, request.symbol, moment)
        key = request_key(request, entrant.headlines)
        answer = store.stored_answer(conn, key)
        themes = store.candidate_themes(conn) if answer is None else []
    replayed = answer is not None
    if answer is None:  # the LLM call happens outside any transaction: it may take seconds
        answer = classify(entrant, themes, use_llm=use_llm, client=llm)  # rules learnt only when needed
    titles = {h.id: h.title for h in entrant.headlines}
    with db.transaction() as conn:
        if not replayed and not store.store_answer(conn, key, request.symbol, request.day, answer):
            # another delivery of the same request committed first: its answer is the one applied
            answer, replayed = store.stored_answer(conn, key) or answer, True
        changed = store.apply(conn, company_id, answer, titles, moment)
        conn.execute(
            "UPDATE theme_sightings SET analysed_at = %s, retry_pending = %s WHERE day = %s AND symbol = %s",
            (moment, answer.retry, request.day, request.symbol),
        )
        changed += store.enforce_cap(conn, get_settings().theme_active_limit, changed, moment)
        metrics.add(conn, request.day, _counts(answer, replayed))
        update = store.blocks(conn, sorted(set(changed)), moment)
    publish(update)
    return Outcome(request, answer, key, replayed, sorted(set(changed)), update)


def _counts(answer: Classification, replayed: bool) -> dict[str, int]:
    if replayed:
        return {metrics.REPLAYED: 1}
    return {
        metrics.CLASSIFIED: 1,
        metrics.LLM_CALLS: int(answer.llm_called),
        metrics.TOKENS: answer.tokens,
        metrics.RULES_FALLBACKS: int(answer.classifier == "rules" and not answer.unclassified),
        metrics.UNCLASSIFIED: int(answer.unclassified),
    }


# -- broadcast -------------------------------------------------------------------------------------------------


def publish(update: Sequence[dict[str, Any]]) -> None:
    """One ``theme_update`` on ``themes:updates`` (the streamer's fan-out sends it to every ``themes``
    subscriber) and the API's theme caches dropped. After the commit: what is sent is stored."""
    if not update:
        return
    message = json.dumps({"type": "theme_update", "themes": list(update)}, ensure_ascii=False, default=str)
    try:
        redis = cache.client()
        invalidate(redis, (block["themeId"] for block in update))
        redis.publish(keys.THEME_UPDATES, message)
    except RedisError as exc:  # the stored themes stay right; clients see them on their next GET
        log.warning("theme_update not published", extra={"error": type(exc).__name__})


def invalidate(redis: Any, theme_ids: Iterable[int]) -> None:
    redis.delete(keys.THEMES_LIST_CACHE, keys.THEMES_METRICS_CACHE, *(keys.theme_detail_cache(i) for i in theme_ids))


def metrics_today(now: datetime | None = None) -> dict[str, Any]:
    day = (now or now_utc()).astimezone(KST).date()
    with db.read() as conn:
        counts = metrics.of_day(conn, day)
    return {"day": day.isoformat(), **counts}
