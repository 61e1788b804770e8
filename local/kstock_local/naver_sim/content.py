"""The stand-in's newsroom: simulated headlines about the seeded companies and the simulated
market's themes, reproducible from a seed and the date.

Everything written here is labelled simulated where a user sees it: titles start with ``[모의]``,
every description ends by saying it is not real reporting, and every URL is on
``*.simulated.kstock.local`` (kstock's ingestion stores such articles with source ``simulated``).

Per query and KST day the newsroom writes a fixed set of articles (seeded by the query and the
day); an article exists once its time of day has passed, so repeated searches during a day see
new articles appear at the top, as with the real API. About one article in seven also reaches
Naver through a syndication partner: it is listed twice, with the same ``originallink`` under a
different ``link`` and a later ``pubDate`` (the duplicates the real API returns across pages).
"""

from __future__ import annotations

import hashlib
import html
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from kstock.companies.reference import CompanyRow, load_companies
from kstock.market.calendar import KST
from kstock_local.kis_sim.themes import THEMES, Theme, themes_of

SIMULATED_HOST = "news.simulated.kstock.local"
SYNDICATED_HOST = "n.news.simulated.kstock.local"
LABEL = "[모의]"
DISCLAIMER = "kstock 모의 시장의 시뮬레이션 기사로, 실제 보도가 아니다."

# One writer per subject: given the day's generator, a (title, description) pair as Naver sends them.
_Writer = Callable[[random.Random], tuple[str, str]]

_MOVES = ("강세", "급등", "상승 출발", "신고가", "반등", "약세 마감", "보합세")
_ISSUES = ("실적 개선 기대", "외국인 순매수", "기관 매수세", "신규 수주", "자사주 매입", "배당 확대", "목표주가 상향")
_COMPANY_TITLES = (
    "{name}, {theme} 테마 {move}… &quot;{keyword} 기대감&quot;",
    "{theme} 관련주 {name} {move}, {keyword} 수혜 부각",
    "증권가 &quot;{name} {issue}&quot;… {theme} 투자 심리 개선",
    "{name} 주가 {pct}% {updown}, {theme} 대장주 부각",
    "{name}, {keyword} 확대 발표에 {move}",
)
_PLAIN_TITLES = (
    "{name}, {issue}에 {move}",
    "{name} 주가 {pct}% {updown}… {industry} 업황 주목",
    "증권가 &quot;{name} {issue}&quot;",
    "{name}, R&amp;D 투자 확대 발표",
)
_THEME_TITLES = (
    "{theme} 테마 {move}… {a}·{b} 동반 상승",
    "&quot;{keyword} 수요 확대&quot; {theme} 관련주 {a}·{b} 주목",
    "{theme} 종목 {a} {updown}, {b}도 {move}",
)


@dataclass(frozen=True, slots=True)
class Article:
    title: str  # Naver-style fragment: HTML entities, no highlight yet
    description: str
    originallink: str
    link: str
    published_at: datetime


class Newsroom:
    """Articles for any query, reproducible from ``seed``; ``days`` of history per query."""

    def __init__(self, seed: int = 20250714, *, days: int = 7, per_day: int = 12) -> None:
        self.seed = seed
        self.days = days
        self.per_day = per_day
        self.companies = [c for c in load_companies() if c.kind == "STOCK"]
        self._by_name = {c.name: c for c in self.companies}
        self._by_symbol = {c.symbol: c for c in self.companies}

    # -- subjects ----------------------------------------------------------------------------------

    def company_for(self, query: str) -> CompanyRow | None:
        return self._by_name.get(query.strip())

    def theme_for(self, query: str) -> Theme | None:
        q = query.strip()
        for theme in THEMES:
            if q == theme.name or q in theme.name.split("/") or q in theme.keywords:
                return theme
        return None

    def industry_members(self, query: str) -> list[CompanyRow]:
        return [c for c in self.companies if c.industry == query.strip()]

    # -- articles ----------------------------------------------------------------------------------

    def articles(self, query: str, now: datetime) -> list[Article]:
        """Every article matching ``query`` published by ``now``, newest first."""
        today = now.astimezone(KST).date()
        found: list[Article] = []
        for back in range(self.days):
            day = today - timedelta(days=back)
            found.extend(a for a in self._day(query, day) if a.published_at <= now)
        found.sort(key=lambda a: (a.published_at, a.link), reverse=True)
        return found

    def _day(self, query: str, day: date) -> list[Article]:
        rng = random.Random(f"{self.seed}:{query}:{day.isoformat()}")
        writers = self._writers(query)
        out: list[Article] = []
        for n in range(self.per_day):
            title, description = rng.choice(writers)(rng)
            minute = 7 * 60 + rng.randrange(13 * 60)  # 07:00-20:00 KST
            published = datetime.combine(day, time(minute // 60, minute % 60, rng.randrange(60)), KST)
            slug = hashlib.sha1(f"{self.seed}:{query}:{day}:{n}".encode()).hexdigest()[:12]
            original = f"https://{SIMULATED_HOST}/{day:%Y%m%d}/{slug}"
            out.append(Article(title, description, original, original, published))
            if rng.random() < 0.15:  # syndicated: the same article again under Naver's own link
                press = rng.randrange(1, 99)
                link = f"https://{SYNDICATED_HOST}/mnews/article/{press:03d}/{slug}"
                out.append(Article(title, description, original, link, published + timedelta(minutes=1)))
        return out

    def _writers(self, query: str) -> list[_Writer]:
        company = self.company_for(query)
        if company is not None:
            themes = themes_of(company.symbol)
            return [self._company_writer(company, t) for t in themes] or [self._plain_writer(company)]
        theme = self.theme_for(query)
        if theme is not None:
            return [self._theme_writer(theme)]
        members = self.industry_members(query)
        if members:
            return [self._plain_writer(c, industry=query.strip()) for c in members[:8]]
        return [self._generic_writer(query.strip())]

    # -- writers: one per subject, each returns (title, description) -------------------------------

    def _company_writer(self, company: CompanyRow, theme: Theme) -> _Writer:
        peers = [self._by_symbol[s].name for s in theme.symbols if s != company.symbol and s in self._by_symbol]

        def write(rng: random.Random) -> tuple[str, str]:
            values = _values(rng, name=company.name, theme=theme.name, keyword=rng.choice(theme.keywords))
            title = rng.choice(_COMPANY_TITLES).format(**values)
            peer = f" 같은 {values['theme']} 테마의 {_escape(rng.choice(peers))}도 움직였다." if peers else ""
            description = (
                f"{values['name']} 주가가 {values['theme']} 테마와 함께 {_object(values['move'])} 보였다. "
                f"{values['keyword']} 관련 기대가 반영됐다는 분석이다.{peer} {_escape(DISCLAIMER)}"
            )
            return title, description

        return write

    def _plain_writer(self, company: CompanyRow, industry: str | None = None) -> _Writer:
        sector = industry or company.industry or "업종"

        def write(rng: random.Random) -> tuple[str, str]:
            values = _values(rng, name=company.name, industry=sector)
            title = rng.choice(_PLAIN_TITLES).format(**values)
            description = (
                f"{values['name']} 주가가 {values['issue']} 소식에 {_object(values['move'])} 보였다. "
                f"{values['industry']} 업황에 대한 관심도 이어졌다. {_escape(DISCLAIMER)}"
            )
            return title, description

        return write

    def _theme_writer(self, theme: Theme) -> _Writer:
        names = [self._by_symbol[s].name for s in theme.symbols if s in self._by_symbol]

        def write(rng: random.Random) -> tuple[str, str]:
            a, b = rng.sample(names, 2)
            values = _values(rng, theme=theme.name, keyword=rng.choice(theme.keywords), a=a, b=b)
            title = rng.choice(_THEME_TITLES).format(**values)
            description = (
                f"{values['theme']} 테마가 {_object(values['move'])} 보이며 {_with(values['a'])} {values['b']} 등 "
                "관련 종목이 함께 움직였다. "
                f"{values['keyword']} 이슈가 부각됐다. {_escape(DISCLAIMER)}"
            )
            return title, description

        return write

    def _generic_writer(self, query: str) -> _Writer:
        subject = _escape(query)

        def write(rng: random.Random) -> tuple[str, str]:
            company = rng.choice(self.companies)
            name = _escape(company.name)
            title = f"{subject} 관련 시장 동향… {name} {rng.choice(_MOVES)}"
            description = f"{subject} 이슈가 증시에서 거론됐다. {name} 등이 언급됐다. {_escape(DISCLAIMER)}"
            return title, description

        return write


def _values(rng: random.Random, **fixed: str) -> dict[str, str]:
    pct = round(rng.uniform(0.5, 29.9), 1)
    values = {
        "move": rng.choice(_MOVES),
        "issue": rng.choice(_ISSUES),
        "pct": f"{pct}",
        "updown": rng.choice(("상승", "상승", "하락")),
    }
    values.update({key: _escape(value) for key, value in fixed.items()})
    return values


def _has_final_consonant(word: str) -> bool:
    last = word.rstrip()[-1:]
    return "가" <= last <= "힣" and (ord(last) - ord("가")) % 28 != 0


def _object(word: str) -> str:
    """``word`` with its object particle (을 after a final consonant, else 를)."""
    return word + ("을" if _has_final_consonant(word) else "를")


def _with(word: str) -> str:
    """``word`` with its 'and' particle (과 after a final consonant, else 와)."""
    return word + ("과" if _has_final_consonant(word) else "와")


def _escape(text: str) -> str:
    """Text as Naver sends it: HTML entities for quotes, ampersands and angle brackets."""
    return html.escape(text, quote=True)


def highlight(fragment: str, query: str) -> str:
    """Wrap each query word in ``<b>`` as Naver does (on the escaped fragment)."""
    for word in sorted({w for w in query.split() if w}, key=len, reverse=True):
        fragment = re.sub(re.escape(_escape(word)), lambda m: f"<b>{m.group(0)}</b>", fragment)
    return fragment


def labelled(article: Article, query: str) -> dict[str, str]:
    """One item of the wire format (``pubDate`` in RFC 822 with +0900)."""
    return {
        "title": f"{LABEL} {highlight(article.title, query)}",
        "originallink": article.originallink,
        "link": article.link,
        "description": highlight(article.description, query),
        "pubDate": rfc822(article.published_at),
    }


def rfc822(moment: datetime) -> str:
    """``Mon, 14 Jul 2025 09:31:00 +0900`` (English names whatever the locale, as Naver sends)."""
    local = moment.astimezone(KST)
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[local.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[local.month - 1]
    return f"{weekday}, {local.day:02d} {month} {local.year} {local:%H:%M:%S} +0900"
