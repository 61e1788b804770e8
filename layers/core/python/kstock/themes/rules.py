"""The rules classifier: which active theme do an entrant's headlines talk about?

Every theme gets a weighted keyword set, learned from what is known about it: its name (and the
synonyms of :mod:`kstock.themes.names`), its description, and its members' headlines. Words are
kiwipiepy nouns (the process's one Kiwi, :mod:`kstock.news.keywords`) plus *phrase terms*: a theme
name or synonym found anywhere in the text, whatever its spacing ("2차 전지" is the term
``#2차전지`` although Kiwi reads only "전지").

Weights are tf-idf across the themes: ``(1 + ln tf) * ln((N + 1) / df)``, L2-normalised per theme,
so a word every theme's news uses ("수출", "실적") weighs almost nothing and a word only one theme
uses ("양극재", "누리호") decides. An entrant scores, per theme, the sum over its words of the
number of its headlines carrying the word times the theme's weight, divided by its number of
headlines: three headlines about batteries outweigh one that names batteries in passing.

The verdict is the best theme when its score clears :data:`MIN_SCORE`, the runner-up is at most
``1 - MIN_MARGIN`` of it, and the evidence is more than one ordinary word (two words that point to
this theme more than to any other, or the theme's own name); otherwise "undecided": no guess
between two close themes, and no theme from one chance word. Pure and deterministic: the same
themes and headlines always give the same verdict.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kstock.news.keywords import STOP_WORDS, nouns_many
from kstock.themes.model import Entrant, ThemeInfo
from kstock.themes.names import SYNONYM_GROUPS, canonical, compact, theme_key

CLASSIFIER = "rules"
# Chosen on the member-headline corpus, not on the golden set (kstock.themes.evaluate): each of its
# 173 headlines, left out of its theme and classified alone, went to its own theme 99 times and to
# another 10 times (the rest undecided: one headline is often too little), while 11 of 12 generic
# market headlines ("환율 상승에 증시 변동성 확대") stayed undecided. The score floor barely mattered
# there; the evidence rules (two distinctive words, or the theme's name) did.
MIN_SCORE = 0.1  # below this the headlines say too little about any theme
MIN_MARGIN = 0.2  # the runner-up must be at least 20% behind the best
MIN_EVIDENCE = 2  # distinct words, unless one of them is the theme's own name: one word is chance
STRONG_SCORE = 0.3  # a score that earns full confidence
NAME_BOOST = 3  # a theme's own name counts as this many mentions in its keyword set
KEYWORDS_SHOWN = 6

# Words of market reporting that say how a stock moved, not why; on top of the news cloud's stop-words.
MARKET_WORDS = frozenset(
    {
        "급등",
        "급락",
        "강세",
        "약세",
        "상승",
        "하락",
        "상한가",
        "하한가",
        "신고가",
        "특징주",
        "관련주",
        "수혜주",
        "테마주",
        "주목",
        "기대감",
        "부각",
        "증권가",
        "외국인",
        "기관",
        "개인",
        "매수",
        "매도",
        "거래량",
        "코스피",
        "코스닥",
        "장중",
    }
)
_IGNORED = STOP_WORDS | MARKET_WORDS
_PART_SEPARATORS = re.compile(r"[/·ㆍ,&+|]")
_LATIN = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True, slots=True)
class RulesVerdict:
    """The rules classifier's answer. ``theme`` is None when it cannot decide (``why`` says why)."""

    theme: str | None
    confidence: float
    keywords: tuple[str, ...]  # the words that carried the best theme, strongest first
    headline_ids: tuple[int, ...]  # the headlines those words came from
    scores: tuple[tuple[str, float], ...]  # the leading themes and their scores, best first
    why: str = ""

    @property
    def decided(self) -> bool:
        return self.theme is not None


def _name_parts(name: str) -> list[str]:
    return [part for part in _PART_SEPARATORS.split(name) if compact(part)] or [name]


def _phrase_token(name: str) -> str:
    # Canonical spelling when the synonym table knows the name (shown in reasons), else its key.
    return "#" + (canonical(name) or theme_key(name))


def _without(title: str, name: str) -> str:
    """``title`` with the company's name blanked out (kept when the name is empty)."""
    return title.replace(name, " ") if name.strip() else title


class _Lexicon:
    """Theme names and synonyms to find in text whatever its spacing: spelling -> phrase term."""

    def __init__(self, names: Iterable[str]) -> None:
        spellings: dict[str, str] = {}
        for group in SYNONYM_GROUPS:
            for spelling in group:
                spellings.setdefault(compact(spelling), _phrase_token(group[0]))
        for name in names:
            for part in _name_parts(name):
                spellings.setdefault(compact(part), _phrase_token(part))
        self._hangul = {s: t for s, t in spellings.items() if len(s) >= 2 and not _LATIN.match(s)}
        # Latin spellings (AI, HBM, SMR) must stand alone: "KAI" is not "AI".
        self._latin = [
            (re.compile(rf"(?<![a-z]){re.escape(s)}(?![a-z])"), t) for s, t in spellings.items() if _LATIN.match(s)
        ]

    def terms(self, text: str) -> list[str]:
        squeezed = compact(text)
        found = {token for spelling, token in self._hangul.items() if spelling in squeezed}
        lowered = unicodedata.normalize("NFKC", text).lower()
        found.update(token for pattern, token in self._latin if pattern.search(lowered))
        return sorted(found)


class RulesClassifier:
    """Keyword sets of the given themes, learned once; :meth:`classify` many entrants against them."""

    def __init__(self, themes: Sequence[ThemeInfo]) -> None:
        self.themes = tuple(themes)
        self._lexicon = _Lexicon(theme.name for theme in self.themes)
        self._weights = self._learn()

    def _terms(self, texts: Sequence[str]) -> list[list[str]]:
        return [
            [noun for noun in found if noun not in _IGNORED] + self._lexicon.terms(text)
            for text, found in zip(texts, nouns_many(list(texts)), strict=True)
        ]

    def _learn(self) -> list[dict[str, float]]:
        counts: list[Counter[str]] = []
        for theme in self.themes:
            found: Counter[str] = Counter()
            for words in self._terms([theme.description, *theme.member_headlines]):
                found.update(words)
            for part in _name_parts(theme.name):
                found[_phrase_token(part)] += NAME_BOOST
            for words in self._terms(_name_parts(theme.name)):
                found.update({word: NAME_BOOST for word in words if not word.startswith("#")})
            counts.append(found)
        themes = len(counts)
        frequency: Counter[str] = Counter(word for found in counts for word in found)
        weights: list[dict[str, float]] = []
        for found in counts:
            raw = {word: (1 + math.log(tf)) * math.log((themes + 1) / frequency[word]) for word, tf in found.items()}
            norm = math.sqrt(sum(value * value for value in raw.values())) or 1.0
            weights.append({word: value / norm for word, value in raw.items() if value > 0})
        return weights

    def keywords(self, theme: str, limit: int = 20) -> list[str]:
        """The theme's heaviest words (for reasons, tests and curious operators)."""
        index = next(i for i, info in enumerate(self.themes) if info.name == theme)
        ranked = sorted(self._weights[index].items(), key=lambda item: (-item[1], item[0]))
        return [word for word, _ in ranked[:limit]]

    def classify(self, entrant: Entrant) -> RulesVerdict:
        if not self.themes:
            return RulesVerdict(None, 0.0, (), (), (), why="no active theme")
        if not entrant.headlines:
            return RulesVerdict(None, 0.0, (), (), (), why="no headlines")
        # The company's own name is no evidence ("와이지엔터테인먼트" must not vote for 엔터 by itself).
        own = compact(entrant.name)
        carried: dict[str, list[int]] = {}  # word -> ids of the headlines that carry it
        titles = [_without(headline.title, entrant.name) for headline in entrant.headlines]
        for headline, words in zip(entrant.headlines, self._terms(titles), strict=True):
            for word in dict.fromkeys(words):
                if word.startswith("#") or compact(word) not in own:  # nor a part of it ("한화" of 한화오션)
                    carried.setdefault(word, []).append(headline.id)
        count = len(entrant.headlines)
        scores = [
            sum(len(ids) * weights.get(word, 0.0) for word, ids in carried.items()) / count for weights in self._weights
        ]
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], self.themes[i].name))
        leaders = tuple((self.themes[i].name, round(scores[i], 4)) for i in order[:3])
        best = order[0]
        top = scores[best]
        second = scores[order[1]] if len(order) > 1 else 0.0
        if top < MIN_SCORE:
            why = f"no theme's keywords in the headlines (best {top:.3f})"
            return RulesVerdict(None, 0.0, (), (), leaders, why=why)
        if second > top * (1 - MIN_MARGIN):
            runner = self.themes[order[1]].name
            why = f"{self.themes[best].name} and {runner} are too close ({top:.3f} vs {second:.3f})"
            return RulesVerdict(None, 0.0, (), (), leaders, why=why)
        weights = self._weights[best]
        # Evidence: the words that point to this theme more than to any other ("수출" of a defence
        # headline is not evidence when batteries are exported as much).
        evidence = sorted(
            (
                (word, len(ids) * weights[word])
                for word, ids in carried.items()
                if word in weights and all(weights[word] >= other.get(word, 0.0) for other in self._weights)
            ),
            key=lambda item: (-item[1], item[0]),
        )
        if len(evidence) < MIN_EVIDENCE and not any(word.startswith("#") for word, _ in evidence):
            named = ", ".join(word for word, _ in evidence) or "no word of its own"
            why = f"too little evidence for {self.themes[best].name} ({named})"
            return RulesVerdict(None, 0.0, (), (), leaders, why=why)
        shown: dict[str, str] = {}  # "#HBM" (the name found) and "HBM" (the noun) are one keyword to a reader
        for word, _ in evidence:
            shown.setdefault(compact(word), word.lstrip("#"))
        keywords = tuple(list(shown.values())[:KEYWORDS_SHOWN])
        ids = sorted({i for word, _ in evidence for i in carried[word]})
        confidence = round((1 - second / top) * min(1.0, top / STRONG_SCORE), 2)
        return RulesVerdict(self.themes[best].name, confidence, keywords, tuple(ids), leaders)
