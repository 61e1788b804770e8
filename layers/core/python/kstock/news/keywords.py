"""Korean nouns of news text (kiwipiepy) and the keyword frequency of a company's news.

Nouns are extracted once, at ingestion, and stored with the article (``news.nouns``, repeats
kept); the word cloud is then one SQL aggregation over the stored nouns, so the API never loads
the analyser (about a second and some 100 MB per process). Kiwi is loaded once per process and
taught the names of the reference companies and a few market terms, so "SK하이닉스" or
"2차전지" stay one noun instead of "SK" + "하이닉스" or "차" + "전지".
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from kstock import db
from kstock.companies.detail import company_row
from kstock.companies.reference import load_companies
from kstock.news.linking import aliases_of
from kstock.schemas import CamelModel

# NNG common noun, NNP proper noun, SL a word in Latin letters (HBM, AI, ETF).
_NOUN_TAGS = frozenset({"NNG", "NNP", "SL"})
MARKET_TERMS = (
    "2차전지",
    "이차전지",
    "양극재",
    "음극재",
    "HBM",
    "AI 반도체",
    "방산",
    "원전",
    "SMR",
    "전력설비",
    "우주항공",
    "K-뷰티",
    "휴머노이드",
    "데이터센터",
    "LNG선",
    "밸류업",
    "공매도",
    "목표주가",
    "순매수",
    "순매도",
)
# Words every market article uses: they would top every company's cloud and say nothing.
STOP_WORDS = frozenset(
    {
        "뉴스",
        "기사",
        "기자",
        "보도",
        "모의",
        "시뮬레이션",
        "kstock",
        "사진",
        "제공",
        "오늘",
        "이날",
        "당일",
        "이번",
        "지난",
        "지난해",
        "올해",
        "최근",
        "현재",
        "오전",
        "오후",
        "관련",
        "대비",
        "분석",
        "전망",
        "예정",
        "국내",
        "주가",
        "종목",
        "증시",
        "시장",
        "투자",
        "이슈",
        "업황",
        "관심",
        "소식",
        "기대",
        "테마",
        "주식",
        "거래",
        "억원",
        "만원",
        "조원",
        "실제",
        "영향",
        "가운데",
        "때문",
        "대한",
        "이상",
        "이하",
        "정도",
        "수준",
        "부분",
        "경우",
    }
)
ARTICLE_KEYWORDS = 8  # distinct nouns kept in news.keywords (shown with each article)

_lock = threading.Lock()


@lru_cache(maxsize=1)
def kiwi() -> Any:  # a kiwipiepy.Kiwi (the package ships no type information)
    """The process's analyser (loading takes about a second: once)."""
    from kiwipiepy import Kiwi  # imported by its users only (Lambda start)

    analyser = Kiwi()
    for word in (*MARKET_TERMS, *(c.name for c in load_companies())):
        if " " not in word:  # Kiwi user words are single tokens
            analyser.add_user_word(word, "NNP", 0.0)
    return analyser


def _is_keyword(form: str, tag: str) -> bool:
    return tag in _NOUN_TAGS and len(form) >= 2


def nouns_of_tokens(tokens: Iterable[Any]) -> list[str]:
    return [t.form for t in tokens if _is_keyword(t.form, t.tag)]


def nouns(text: str) -> list[str]:
    """The nouns of ``text`` in order, repeats kept (one-syllable nouns dropped: 것, 등, 차 ...)."""
    with _lock:  # Kiwi objects are not documented as thread-safe
        return nouns_of_tokens(kiwi().tokenize(text))


def nouns_many(texts: Sequence[str]) -> list[list[str]]:
    """:func:`nouns` of many texts in one batch (Kiwi analyses a list faster than one by one)."""
    if not texts:
        return []
    with _lock:
        return [nouns_of_tokens(tokens) for tokens in kiwi().tokenize(list(texts))]


def top_keywords(found: Sequence[str], limit: int = ARTICLE_KEYWORDS) -> list[str]:
    """The ``limit`` most frequent distinct nouns of one article, stop-words removed."""
    counts = Counter(n for n in found if n not in STOP_WORDS)
    return [word for word, _ in counts.most_common(limit)]


class Keyword(CamelModel):
    keyword: str
    count: int


def company_keywords(company_id: int, days: int = 7, limit: int = 50) -> list[Keyword]:
    """Noun frequency over the company's news of the last ``days`` days, most frequent first:
    stop-words and the company's own names removed (word-cloud data). NOT_FOUND for no company."""
    with db.read() as conn:
        company_row(conn, company_id)
        name: Any = conn.execute("SELECT name, symbol FROM companies WHERE id = %s", (company_id,)).fetchone()
        excluded = sorted(STOP_WORDS | own_words(name["name"], name["symbol"]))
        rows = conn.execute(
            """
            SELECT noun AS keyword, count(*)::int AS count
            FROM news_companies l
            JOIN news n ON n.id = l.news_id
            CROSS JOIN LATERAL unnest(n.nouns) AS noun
            WHERE l.company_id = %s AND n.published_at >= now() - make_interval(days => %s)
              AND NOT (noun = ANY(%s))
            GROUP BY noun ORDER BY count DESC, noun LIMIT %s
            """,
            (company_id, days, excluded, limit),
        ).fetchall()
    return [Keyword.model_validate(r) for r in rows]


def own_words(name: str, symbol: str) -> set[str]:
    """A company's name, its aliases and the words of a spaced name ("JYP Ent." -> JYP, Ent)."""
    words = {name, *aliases_of(symbol)}
    for alias in list(words):
        words.update(part.strip(".,") for part in alias.split() if len(part.strip(".,")) >= 2)
    return words
