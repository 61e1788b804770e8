"""/themes: the live theme heat map (issue 14): active themes with members and live change %, one
theme's members with why each joined, and what the pipeline cost today.

Answers are cached in Redis for a few seconds (many live pages poll the same map) and dropped on
every ``theme_update`` (:func:`kstock.themes.service.publish`), so a new member shows at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Blueprint, Response
from redis.exceptions import RedisError

from chalicelib.openapi import ID, operation
from chalicelib.web import ok
from kstock import cache, db, keys
from kstock.errors import NotFound
from kstock.schemas import CamelModel
from kstock.themes import service, store
from kstock.validation import parse_id

bp = Blueprint(__name__)
TAGS = ["themes"]
log = logging.getLogger("kstock.api.themes")
CACHE_SECONDS = 5


class ThemeMember(CamelModel):
    symbol: str
    name: str
    price: float | None
    change_percent: float | None
    traded_value: int
    in_ranking: bool  # false: fell out of the top 30 today (still shown, marked)
    classifier: str  # llm or rules
    reason: str | None  # Korean, one sentence
    since: str


class ThemeBlock(CamelModel):
    theme_id: int
    name: str
    is_active: bool
    unclassified: bool  # the 미분류 block: stocks waiting for a retry
    weight: int  # sum of the members' traded value (KRW): the treemap area
    average_change_percent: float | None  # the treemap colour
    members: list[ThemeMember]


class MemberHeadline(CamelModel):
    news_id: int | None
    title: str
    url: str | None
    source: str | None  # naver, ..., or simulated (the local stand-in)
    published_at: str | None


class ThemeMemberDetail(ThemeMember):
    confidence: float
    fallback: str | None  # why rules decided instead of the LLM
    left_ranking_at: str | None
    headlines: list[MemberHeadline]


class ThemeDetail(ThemeBlock):
    description: str
    members: list[ThemeMemberDetail]  # type: ignore[assignment]


class ThemeMetrics(CamelModel):
    day: str
    ranking_polls: int
    entrants_seen: int
    debounced_away: int
    classifications_queued: int
    classifications: int
    llm_calls: int
    rules_fallbacks: int
    unclassified: int
    tokens: int
    replayed_answers: int
    naive_llm_calls: int  # classifying the whole top 30 every poll instead


def cached(key: str, compute: Callable[[], Any]) -> Any:
    try:
        hit = cache.client().get(key)
    except RedisError:
        hit = None
    if isinstance(hit, str | bytes):  # None when not cached
        return json.loads(hit)
    value = compute()
    try:
        cache.client().set(key, json.dumps(value, ensure_ascii=False, default=str), ex=CACHE_SECONDS)
    except RedisError as exc:
        log.warning("theme answer not cached", extra={"error": type(exc).__name__})
    return value


def _list() -> list[dict[str, Any]]:
    with db.read() as conn:
        return store.list_themes(conn, service.now_utc())


@bp.route("/themes", methods=["GET"])
@operation("Active themes for the heat map", tags=TAGS, response=list[ThemeBlock])
def list_themes() -> Response:
    """Active themes with their members (live price and change %: the stream, else the last quote,
    else the ranking), each theme's weight (sum of traded value) and average change %: what a
    treemap needs. Members that fell out of the top 30 today stay, with ``inRanking`` false;
    stocks no classifier could place yet are in the ``unclassified`` block (미분류)."""
    return ok(cached(keys.THEMES_LIST_CACHE, _list), "테마 목록 조회를 성공하였습니다.")


@bp.route("/themes/metrics", methods=["GET"])
@operation("Theme sync cost today", tags=TAGS, response=ThemeMetrics)
def theme_metrics() -> Response:
    """Today's (KST) ranking polls, entrants seen, entrants debounced away, classifications, LLM
    calls, rules fallbacks, 미분류 answers and LLM tokens, beside what classifying the whole top 30
    on every poll would have cost in LLM calls (``naiveLlmCalls``)."""

    def compute() -> dict[str, Any]:
        found = service.metrics_today()
        return {**found, "naiveLlmCalls": 30 * found["rankingPolls"]}

    return ok(cached(keys.THEMES_METRICS_CACHE, compute), "테마 메트릭 조회를 성공하였습니다.")


@bp.route("/themes/{themeId}", methods=["GET"])
@operation(
    "One theme and why each member joined", tags=TAGS, path={"themeId": ID}, response=ThemeDetail, errors=[NotFound]
)
def get_theme(themeId: str) -> Response:
    """Members with why each joined: the headlines (with links) the classifier cited, its reason,
    which classifier decided (``llm`` or ``rules``, with the LLM's failure in ``fallback``) and since
    when. An inactive theme is still found here."""
    theme_id = parse_id(themeId, "themeId")

    def compute() -> dict[str, Any] | None:
        with db.read() as conn:
            return store.theme_detail(conn, theme_id, service.now_utc())

    found = cached(keys.theme_detail_cache(theme_id), compute)
    if found is None:
        raise NotFound(f"theme {theme_id} does not exist")
    return ok(found, "테마 조회를 성공하였습니다.")
