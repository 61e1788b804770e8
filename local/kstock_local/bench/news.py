"""``kstock bench news``: news ingestion throughput against the Naver stand-in.

Two figures: articles per second through fetch, dedupe, link and store (the worker's whole
path, over real sockets into the configured Postgres), and keyword extraction documents per
second (kiwipiepy nouns of title + description, the analyser already loaded). The stand-in gets
a fresh seed, so every article is new to the database; the bench deletes what it stored unless
``keep`` is set.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from kstock import db
from kstock.news.ingest import ingest, queries_for
from kstock.news.keywords import kiwi, nouns_many
from kstock.news.naver import NaverNewsClient
from kstock_local.naver_sim.content import Article
from kstock_local.naver_sim.server import NaverStandIn, NaverStandInThread


@dataclass
class NewsBench:
    queries: int = 0
    calls: int = 0
    fetched: int = 0
    stored: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=lambda: {"fetch": 0.0, "nouns": 0.0, "store": 0.0})
    kiwi_load_seconds: float = 0.0
    keyword_docs: int = 0
    keyword_seconds: float = 0.0

    @property
    def articles_per_second(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0

    @property
    def keyword_docs_per_second(self) -> float:
        return self.keyword_docs / self.keyword_seconds if self.keyword_seconds else 0.0

    def lines(self) -> list[str]:
        phases = ", ".join(f"{name} {share:.2f}s" for name, share in self.phases.items())
        return [
            f"ingest: {self.stored} articles stored ({self.fetched} fetched, {self.calls} calls, "
            f"{self.queries} queries) in {self.seconds:.2f}s = {self.articles_per_second:.0f} articles/s ({phases})",
            f"keywords: {self.keyword_docs} docs in {self.keyword_seconds:.2f}s = "
            f"{self.keyword_docs_per_second:.0f} docs/s (Kiwi loaded once in {self.kiwi_load_seconds:.2f}s)",
        ]


def run(companies: int = 30, *, keep: bool = False, seed: int | None = None) -> NewsBench:
    """Ingest the news of the first ``companies`` companies from a fresh stand-in, then extract
    keywords from every stored article again; the figures are returned (and printed by the CLI)."""
    bench = NewsBench()
    started = time.perf_counter()
    kiwi()
    bench.kiwi_load_seconds = time.perf_counter() - started
    with db.read() as conn:
        queries = queries_for(conn, industries=False)[:companies]
    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
    with NaverStandInThread(NaverStandIn(seed=seed)) as standin:
        client = NaverNewsClient(standin.url, "bench", "bench", timeout=30)
        served = {q.query: standin.newsroom.articles(q.query, standin.clock()) for q in queries}
        try:
            started = time.perf_counter()
            for query in queries:
                result = ingest(query, client)
                bench.fetched += result.fetched
                bench.stored += result.stored
                for phase, seconds in result.seconds.items():
                    bench.phases[phase] = bench.phases.get(phase, 0.0) + seconds
            bench.seconds = time.perf_counter() - started
            bench.queries, bench.calls = len(queries), client.calls
            texts = [f"{a.title}\n{a.description}" for articles in served.values() for a in articles]
            started = time.perf_counter()
            nouns_many(texts)
            bench.keyword_seconds = time.perf_counter() - started
            bench.keyword_docs = len(texts)
        finally:
            if not keep:
                _delete(served)
    return bench


def _delete(served: dict[str, list[Article]]) -> None:
    urls = sorted({a.originallink or a.link for articles in served.values() for a in articles})
    with db.transaction() as conn:
        conn.execute("DELETE FROM news WHERE url = ANY(%s)", (urls,))


__all__ = ["NewsBench", "run"]
