"""News ingestion against the Naver stand-in over real sockets, into the session Postgres:
dedupe, linking, idempotence under redelivery, keywords and Korean search."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from kstock import db
from kstock.errors import NotFound
from kstock.market.calendar import KST
from kstock.news.ingest import InvalidNewsQuery, NewsQuery, ingest, queries_for
from kstock.news.keywords import company_keywords
from kstock.news.linking import Linker
from kstock.news.naver import NaverNewsClient
from kstock.news.store import search_news, source_of
from kstock_local.naver_sim import NaverStandIn, NaverStandInThread
from kstock_local.naver_sim.content import Article, Newsroom


class FixedNewsroom(Newsroom):
    """The stand-in's wire format around a fixed list of articles (whatever the query)."""

    def __init__(self, articles: list[Article]) -> None:
        super().__init__()
        self.fixed = articles

    def articles(self, query: str, now: datetime) -> list[Article]:
        return sorted((a for a in self.fixed if a.published_at <= now), key=lambda a: a.published_at, reverse=True)


@pytest.fixture
def fresh_news(database) -> Iterator[None]:
    """Every article a test stores is deleted afterwards (other modules count news rows)."""
    with db.read() as conn:
        before = conn.execute("SELECT coalesce(max(id), 0) AS id FROM news").fetchone()["id"]
    yield
    with db.transaction() as conn:
        conn.execute("DELETE FROM news WHERE id > %s", (before,))


def client(standin: NaverStandIn) -> NaverNewsClient:
    return NaverNewsClient(standin.url, "id", "secret", timeout=10, backoff=0.001, backoff_max=0.01)


def one(sql: str, *params: Any) -> Any:
    with db.read() as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else next(iter(row.values()))


def company_id(name: str) -> int:
    return int(one("SELECT id FROM companies WHERE name = %s", name))


def industry_id(name: str) -> int:
    return int(one("SELECT id FROM industries WHERE name = %s", name))


def counts(urls_like: str = "%") -> tuple[int, int, int]:
    with db.read() as conn:
        row = conn.execute(
            """
            SELECT (SELECT count(*) FROM news WHERE url LIKE %s) AS news,
                   (SELECT count(*) FROM news_companies l JOIN news n ON n.id = l.news_id WHERE n.url LIKE %s) AS c,
                   (SELECT count(*) FROM news_industries l JOIN news n ON n.id = l.news_id WHERE n.url LIKE %s) AS i
            """,
            (urls_like, urls_like, urls_like),
        ).fetchone()
    return row["news"], row["c"], row["i"]


def article(title: str, description: str, url: str, published: datetime, link: str | None = None) -> Article:
    return Article(title, description, url, link if link is not None else url, published)


NOON = datetime(2026, 3, 10, 12, 0, tzinfo=KST)


# -- ingestion from the stand-in -------------------------------------------------------------------


def test_company_news_is_deduplicated_linked_and_labelled_simulated(fresh_news):
    samsung, hynix = company_id("삼성전자"), company_id("SK하이닉스")
    with NaverStandInThread(NaverStandIn(clock=lambda: NOON)) as standin:
        result = ingest(NewsQuery("company", samsung, "삼성전자"), client(standin), display=30)
    assert result.pages >= 3 and result.fetched > result.unique  # syndicated twins came back
    assert result.stored == result.new == result.unique > 30
    with db.read() as conn:
        rows = conn.execute(
            """
            SELECT n.title, n.summary, n.source, n.url, n.keywords, array_agg(l.company_id) AS companies
            FROM news n JOIN news_companies l ON l.news_id = n.id
            WHERE n.id IN (SELECT news_id FROM news_companies WHERE company_id = %s)
            GROUP BY n.id
            """,
            (samsung,),
        ).fetchall()
    assert len(rows) == result.stored
    assert {r["source"] for r in rows} == {"simulated"}
    assert all(r["title"].startswith("[모의]") and "<b>" not in r["title"] + r["summary"] for r in rows)
    assert any('"' in r["title"] for r in rows) and not any("&quot;" in r["title"] for r in rows)
    assert all(r["keywords"] and "주가" not in r["keywords"] for r in rows)
    naming_hynix = [r for r in rows if "SK하이닉스" in r["title"] + r["summary"]]
    assert naming_hynix and all(hynix in r["companies"] for r in naming_hynix)
    assert all(hynix not in r["companies"] for r in rows if "SK하이닉스" not in r["title"] + r["summary"])
    semis = industry_id("반도체 제조업")  # "HBM/반도체" names the industry's core word
    assert one("SELECT count(*) FROM news_industries WHERE industry_id = %s", semis) > 0


def test_a_redelivered_message_stores_nothing_twice(fresh_news):
    query = NewsQuery("company", company_id("카카오"), "카카오")
    with NaverStandInThread(NaverStandIn(clock=lambda: NOON)) as standin:
        first = ingest(query, client(standin), display=40)
        after_first = counts()
        again = ingest(query, client(standin), display=40)
        assert counts() == after_first
    assert first.stored > 0 and first.company_links > 0
    assert (again.stored, again.company_links, again.industry_links) == (0, 0, 0)
    assert again.pages == 1 and again.reached_stored  # stopped at the stored articles


def test_news_published_later_is_added_on_top_and_the_run_stops_at_stored_news(fresh_news):
    now = [NOON.replace(hour=9)]
    query = NewsQuery("company", company_id("한화오션"), "한화오션")
    with NaverStandInThread(NaverStandIn(clock=lambda: now[0])) as standin:
        morning = ingest(query, client(standin), display=10)
        now[0] = NOON.replace(hour=21)
        visible = standin.newsroom.articles("한화오션", now[0])
        evening = ingest(query, client(standin), display=10)
    published_since = {a.originallink for a in visible if a.published_at > NOON.replace(hour=9)}
    assert morning.stored > 0 and evening.stored == len(published_since) > 0
    assert evening.reached_stored and evening.pages <= len(published_since) // 10 + 2


def test_duplicates_across_pages_are_stored_once_and_real_hosts_are_naver(fresh_news):
    t = datetime.now(KST).replace(microsecond=0)
    lg = "https://www.hankyung.com/article/test-lg-1"
    articles = [
        article("LG에너지솔루션, 북미 공장 가동", "LG에너지솔루션 ESS 수주", lg, t - timedelta(minutes=1)),
        article(
            "에코프로비엠 양극재 수출", "양극재 수요 증가", "https://www.mk.co.kr/news/test-2", t - timedelta(minutes=2)
        ),
        # the first article again on page 2, through Naver's own link, as the real API lists it
        article(
            "LG에너지솔루션, 북미 공장 가동",
            "LG에너지솔루션 ESS 수주",
            lg,
            t - timedelta(minutes=3),
            link="https://n.news.naver.com/mnews/article/015/0000000001",
        ),
        article(
            "삼성SDI 전고체 배터리",
            "삼성SDI 양산 계획",
            "",
            t - timedelta(minutes=4),
            link="https://n.news.naver.com/mnews/article/015/0000000002",
        ),
    ]
    with NaverStandInThread(NaverStandIn(newsroom=FixedNewsroom(articles))) as standin:
        result = ingest(
            NewsQuery("company", company_id("LG에너지솔루션"), "LG에너지솔루션"), client(standin), display=2
        )
    assert (result.pages, result.fetched, result.unique, result.stored) == (2, 4, 3, 3)
    with db.read() as conn:
        rows = conn.execute(
            "SELECT url, source FROM news WHERE url = ANY(%s)",
            ([lg, "https://n.news.naver.com/mnews/article/015/0000000002"],),
        ).fetchall()
    assert sorted(r["url"] for r in rows) == sorted([lg, "https://n.news.naver.com/mnews/article/015/0000000002"])
    assert {r["source"] for r in rows} == {"naver"}


def test_an_industry_query_links_the_industry_and_the_companies_it_names(fresh_news):
    semis = industry_id("반도체 제조업")
    with NaverStandInThread(NaverStandIn(clock=lambda: NOON)) as standin:
        result = ingest(NewsQuery("industry", semis, "반도체 제조업"), client(standin), display=50)
    assert result.stored > 0
    with db.read() as conn:
        linked = conn.execute(
            """
            SELECT n.title, n.summary, (SELECT array_agg(c.name) FROM news_companies l JOIN companies c
                                        ON c.id = l.company_id WHERE l.news_id = n.id) AS companies
            FROM news n JOIN news_industries i ON i.news_id = n.id AND i.industry_id = %s
            """,
            (semis,),
        ).fetchall()
    assert len(linked) == result.stored
    members = {
        r["name"]
        for r in queries_for_rows(
            "SELECT c.name FROM companies c JOIN industries i ON i.id = c.industry_id WHERE i.name = '반도체 제조업'"
        )
    }
    assert all(r["companies"] and set(r["companies"]) & members for r in linked)


def queries_for_rows(sql: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        return list(conn.execute(sql).fetchall())


def test_linking_prefers_the_longest_name_and_respects_word_edges(database):
    with db.read() as conn:
        linker = Linker.load(conn)
    names = {company_id(n): n for n in ("LG에너지솔루션", "SK하이닉스", "NAVER", "LG", "SK", "기아", "현대자동차")}
    found, _ = linker.link("LG에너지솔루션과 SK하이닉스가 강세, 네이버와 현대차도. LGD 지분 BSK 매각")
    assert {names.get(c, c) for c in found} == {"LG에너지솔루션", "SK하이닉스", "NAVER", "현대자동차"}
    found, _ = linker.link("LG는 지주사, SK가 투자")
    assert {names.get(c, c) for c in found} == {"LG", "SK"}


# -- messages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"kind": "theme", "id": 1, "query": "x"},
        {"kind": "company", "id": "1", "query": "x"},
        {"kind": "company", "id": 0, "query": "x"},
        {"kind": "company", "id": True, "query": "x"},
        {"kind": "company", "id": 1, "query": "  "},
        {"kind": "company", "id": 1},
        {},
    ],
)
def test_malformed_messages_are_poison(message):
    with pytest.raises(InvalidNewsQuery):
        NewsQuery.parse(message)


def test_a_message_for_a_missing_company_is_poison_and_calls_nobody(database):
    query = NewsQuery.parse({"kind": "company", "id": 99_999_999, "query": "삼성전자"})
    assert query.message() == {"kind": "company", "id": 99_999_999, "query": "삼성전자"}
    with NaverStandInThread() as standin:
        with pytest.raises(InvalidNewsQuery):
            ingest(query, client(standin))
        assert standin.stats.requests == 0


def test_queries_for_symbols_and_for_everything(database):
    with db.read() as conn:
        chosen = queries_for(conn, symbols=["005930", "000660"])
        everything = queries_for(conn)
    assert [(q.kind, q.query) for q in chosen] == [("company", "삼성전자"), ("company", "SK하이닉스")]
    assert {q.kind for q in everything} == {"company", "industry"} and len(everything) > 200


# -- keywords and search ---------------------------------------------------------------------------


def test_keywords_count_nouns_without_stop_words_or_the_company_name(fresh_news):
    now = datetime.now(KST).replace(microsecond=0)
    base = "https://www.example-press.kr/test-keywords"
    articles = [
        article(
            "에코프로비엠, 양극재 공장 증설",
            "에코프로비엠 양극재 수주 확대. 주가 강세",
            f"{base}/1",
            now - timedelta(hours=1),
        ),
        article("에코프로비엠 양극재 수출 호조", "양극재 수요 증가", f"{base}/2", now - timedelta(hours=2)),
        article("에코프로비엠 공장 가동", "신규 공장 가동률 상승", f"{base}/3", now - timedelta(days=2)),
        article("에코프로비엠 공장 점검", "정기 점검", f"{base}/4", now - timedelta(days=10)),
    ]
    ecopro = company_id("에코프로비엠")
    with NaverStandInThread(NaverStandIn(newsroom=FixedNewsroom(articles))) as standin:
        assert ingest(NewsQuery("company", ecopro, "에코프로비엠"), client(standin)).stored == 4
    week = {k.keyword: k.count for k in company_keywords(ecopro, days=7)}
    assert (week["양극재"], week["공장"], week["가동"], week["수주"]) == (4, 3, 2, 1)
    assert "에코프로비엠" not in week and "주가" not in week and "점검" not in week
    month = {k.keyword: k.count for k in company_keywords(ecopro, days=30)}
    assert (month["공장"], month["점검"]) == (4, 2)
    ranked = company_keywords(ecopro, days=7)
    assert [k.keyword for k in ranked[:2]] == ["양극재", "공장"] and ranked[0].wire() == {
        "keyword": "양극재",
        "count": 4,
    }
    with pytest.raises(NotFound):
        company_keywords(99_999_999)


def test_search_matches_korean_nouns_through_particles(fresh_news):
    now = datetime.now(KST).replace(microsecond=0)
    base = "https://www.example-press.kr/test-search"
    articles = [
        article("삼성전자가 HBM 공급 확대", "엔비디아에 공급", f"{base}/1", now - timedelta(hours=1)),
        article("삼성전자의 파운드리 수주", "2나노 공정", f"{base}/2", now - timedelta(hours=2)),
        article("SK하이닉스 HBM 증산", "청주 공장", f"{base}/3", now - timedelta(hours=3)),
    ]
    with NaverStandInThread(NaverStandIn(newsroom=FixedNewsroom(articles))) as standin:
        ingest(NewsQuery("company", company_id("삼성전자"), "삼성전자"), client(standin))

    def urls(text: str) -> set[str]:
        return {r["url"] for r in search_news(text, limit=100) if r["url"].startswith(base)}

    assert urls("삼성전자는") == {f"{base}/1", f"{base}/2"}  # the particle is not part of the word
    assert urls("HBM을 공급") == {f"{base}/1"}
    assert urls("HBM") == {f"{base}/1", f"{base}/3"}
    assert search_news("은는이가") == []


def test_source_is_decided_by_the_article_host():
    assert source_of("https://news.simulated.kstock.local/20260310/abc") == "simulated"
    assert source_of("https://n.news.simulated.kstock.local/mnews/article/001/abc") == "simulated"
    assert source_of("https://n.news.naver.com/mnews/article/015/0005151234") == "naver"
    assert source_of("https://simulated.kstock.local.evil.example/x") == "naver"


def test_the_bench_measures_and_leaves_no_rows_behind(fresh_news):
    from kstock_local.bench import news as bench

    before = counts()
    figures = bench.run(companies=2, seed=7)
    assert figures.queries == 2 and figures.stored > 0 and figures.calls >= 2
    assert figures.articles_per_second > 0 and figures.keyword_docs_per_second > 0
    assert len(figures.lines()) == 2
    assert counts() == before
