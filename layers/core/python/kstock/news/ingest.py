"""News ingestion: one query message in, new articles stored and linked, idempotently.

A message is ``{"kind": "company"|"industry", "id": <id>, "query": "<search words>"}`` (the
schedule enqueues one per company and industry; ``kstock news ingest`` builds the same). The
worker:

1. fetches Naver's pages for the query, newest first (``sort=date``), and stops after the first
   page that holds an article already stored: everything older was seen by an earlier run;
2. deduplicates by canonical URL (``originallink``, else ``link``): the same article reaches
   Naver through several partners and comes back under several links, even across pages;
3. extracts each new article's nouns (kiwipiepy) for search and the word cloud;
4. stores the new articles and links every article of the run to each company and industry it
   names (:mod:`kstock.news.linking`) and to the message's own company or industry (Naver
   matched the query, even where the match is in the body we never see);
5. writes with ``ON CONFLICT DO NOTHING`` throughout, in one transaction: a redelivered message,
   or two workers on the same query, store nothing twice.

A malformed message, or one naming a company or industry that does not exist, raises
:class:`InvalidNewsQuery`: retrying cannot help, so the queue's redrive policy moves it to the
DLQ. Naver's errors propagate (:mod:`kstock.news.errors`); the worker decides what to retry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kstock import db
from kstock.news import store
from kstock.news.keywords import nouns_many, top_keywords
from kstock.news.linking import Linker
from kstock.news.naver import MAX_DISPLAY, NaverNewsClient, NewsArticle

DEFAULT_LIMIT = 300  # newest articles one run may read (3 calls); the first run of a query fills history


class InvalidNewsQuery(ValueError):
    """A message no retry can process (malformed, or naming nothing that exists)."""


@dataclass(frozen=True, slots=True)
class NewsQuery:
    kind: Literal["company", "industry"]
    id: int
    query: str

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> NewsQuery:
        kind, owner, query = message.get("kind"), message.get("id"), message.get("query")
        if kind not in ("company", "industry"):
            raise InvalidNewsQuery(f"kind must be company or industry, not {kind!r}")
        if isinstance(owner, bool) or not isinstance(owner, int) or owner <= 0:
            raise InvalidNewsQuery(f"id must be a positive integer, not {owner!r}")
        if not isinstance(query, str) or not query.strip() or len(query) > 200:
            raise InvalidNewsQuery(f"query must be 1-200 characters, not {query!r}")
        return cls(kind, owner, query.strip())

    def message(self) -> dict[str, object]:
        return {"kind": self.kind, "id": self.id, "query": self.query}


@dataclass
class IngestResult:
    query: NewsQuery
    pages: int = 0
    fetched: int = 0  # items Naver returned
    unique: int = 0  # distinct canonical URLs among them
    new: int = 0  # not stored before this run (after the page-level check)
    stored: int = 0  # rows this run inserted (0 when redelivered)
    company_links: int = 0  # links this run inserted
    industry_links: int = 0
    reached_stored: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # fetch, nouns, store


def ingest(
    query: NewsQuery, client: NaverNewsClient, *, limit: int = DEFAULT_LIMIT, display: int = MAX_DISPLAY
) -> IngestResult:
    """Fetch, deduplicate, link and store the news of one query message."""
    result = IngestResult(query)
    with db.read() as conn:
        _require_owner(conn, query)
        linker = Linker.load(conn)

    started = time.perf_counter()
    articles: dict[str, NewsArticle] = {}  # canonical URL -> first seen (the newest listing)
    known: set[str] = set()
    for page in client.pages(query.query, display=display, limit=limit):
        result.pages += 1
        result.fetched += len(page.items)
        fresh = [a for a in page.items if a.canonical_url not in articles]
        for article in fresh:
            articles.setdefault(article.canonical_url, article)
        with db.read() as conn:
            already = store.stored_urls(conn, [a.canonical_url for a in fresh])
        known |= already
        if already:
            result.reached_stored = True
            break
    result.unique = len(articles)
    new = [a for url, a in articles.items() if url not in known]
    result.new = len(new)
    result.seconds["fetch"] = time.perf_counter() - started

    started = time.perf_counter()
    found = nouns_many([f"{a.title}\n{a.description}" for a in new])
    rows = [
        store.NewsRow(
            a.canonical_url,
            a.title,
            a.description,
            store.source_of(a.canonical_url),
            a.published_at,
            top_keywords(n),
            n,
        )
        for a, n in zip(new, found, strict=True)
    ]
    result.seconds["nouns"] = time.perf_counter() - started

    started = time.perf_counter()
    with db.transaction() as conn:
        result.stored = store.insert_news(conn, rows)
        ids = store.ids_by_url(conn, list(articles))
        companies: list[tuple[int, int]] = []
        industries: list[tuple[int, int]] = []
        for url, article in articles.items():
            news_id = ids.get(url)
            if news_id is None:  # cannot happen inside the transaction; never link a missing row
                continue
            named_companies, named_industries = linker.link(f"{article.title}\n{article.description}")
            (named_companies if query.kind == "company" else named_industries).add(query.id)
            companies += [(news_id, c) for c in named_companies]
            industries += [(news_id, i) for i in named_industries]
        result.company_links = store.insert_links(conn, "news_companies", "company_id", companies)
        result.industry_links = store.insert_links(conn, "news_industries", "industry_id", industries)
    result.seconds["store"] = time.perf_counter() - started
    return result


def _require_owner(conn: Any, query: NewsQuery) -> None:
    table = "companies" if query.kind == "company" else "industries"
    if conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (query.id,)).fetchone() is None:
        raise InvalidNewsQuery(f"{query.kind} {query.id} does not exist")


def queries_for(conn: Any, *, symbols: list[str] | None = None, industries: bool = True) -> list[NewsQuery]:
    """The query messages of a schedule run or ``kstock news ingest``: one per company (its name)
    and, unless ``symbols`` narrows the run, one per industry (its name)."""
    if symbols:
        rows = conn.execute("SELECT id, name FROM companies WHERE symbol = ANY(%s) ORDER BY id", (symbols,)).fetchall()
        return [NewsQuery("company", r["id"], r["name"]) for r in rows]
    out = [
        NewsQuery("company", r["id"], r["name"])
        for r in conn.execute("SELECT id, name FROM companies WHERE kind = 'STOCK' ORDER BY id").fetchall()
    ]
    if industries:
        out += [
            NewsQuery("industry", r["id"], r["name"])
            for r in conn.execute("SELECT id, name FROM industries ORDER BY id").fetchall()
        ]
    return out
