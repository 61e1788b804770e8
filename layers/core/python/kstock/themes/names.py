"""Theme names: one spelling per theme, so "2차 전지", "2차전지" and "이차전지" never become three themes.

Korean market news spells one theme many ways (spacing, Latin or Hangul, short or long form), and
an LLM asked for a new micro theme will use any of them. A name is reduced to a *key* in two steps:

1. :func:`compact`: Unicode NFKC, lower case, everything but letters and digits removed
   ("K-뷰티" -> "k뷰티", "2차 전지" -> "2차전지", "A.I." -> "ai");
2. the synonym table: every spelling of a group maps to its canonical name ("이차전지" -> "2차전지",
   "방위산업" -> "방산"); a name outside the table is its own key, after a trailing
   "관련주" / "테마주" / "테마" is dropped ("조선 관련주" -> "조선").

A compound name ("HBM/반도체", "제약·바이오") is also matched by its parts, so a new name "반도체"
maps to an existing "HBM/반도체" (whole to part; part to part is not a match: "AI/반도체" and
"HBM/반도체" stay two themes).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

UNCLASSIFIED = "미분류"  # the theme of a stock neither classifier could place (retried later)

# Canonical name first, then the other spellings (any spacing, case or punctuation of these matches).
# "~" pairs of the issue (전력기기 ~ 전력설비) are merged: the market uses them for the same stocks.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("2차전지", "이차전지", "2차 전지", "배터리", "2차전지주"),
    ("HBM", "고대역폭메모리", "고대역폭 메모리"),
    ("반도체", "반도체주", "semiconductor"),
    ("방산", "방위산업", "방산주", "K-방산", "국방"),
    ("원전", "원자력", "원자력발전", "원전주"),
    ("SMR", "소형모듈원전", "소형모듈원자로"),
    ("조선", "조선업", "조선주"),
    ("바이오", "제약바이오", "바이오제약", "제약", "바이오헬스"),
    ("로봇", "로보틱스", "로봇주", "로봇산업"),
    ("AI", "인공지능", "A.I."),
    ("전력설비", "전력기기", "전력장비", "전력인프라"),
    ("화장품", "뷰티", "K-뷰티", "코스메틱", "화장품주"),
    ("엔터", "엔터테인먼트", "엔터주", "연예기획사"),
    ("게임", "게임주", "게임산업"),
    ("우주항공", "항공우주", "우주산업"),
    ("자동차", "완성차", "자동차주"),
    ("음식료", "식음료", "K-푸드", "음식료품"),
    ("밸류업", "기업가치제고", "저PBR"),
)
_SUFFIXES = ("관련주", "테마주", "테마")  # words that do not change which theme a name means
_PART_SEPARATORS = re.compile(r"[/·ㆍ,&+|]")
_NOT_WORD = re.compile(r"[\W_]+")


def compact(text: str) -> str:
    """``text`` without spacing, case or punctuation: the form names are compared in."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def _build_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for group in SYNONYM_GROUPS:
        for spelling in group:
            key = compact(spelling)
            if key in table and table[key] != group[0]:
                raise ValueError(f"theme spelling {spelling!r} is in two synonym groups")
            table[key] = group[0]
    return table


_CANONICAL = _build_table()


def canonical(name: str) -> str | None:
    """The canonical name of ``name``'s synonym group, or None when it is in no group."""
    key = compact(name)
    if key in _CANONICAL:
        return _CANONICAL[key]
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return _CANONICAL.get(key[: -len(suffix)])
    return None


def theme_key(name: str) -> str:
    """The key two names share exactly when they mean the same theme."""
    found = canonical(name)
    if found is not None:
        return compact(found)
    key = compact(name)
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def part_keys(name: str) -> frozenset[str]:
    """The keys of a compound name's parts ("HBM/반도체" -> {hbm, 반도체}); a plain name has none."""
    parts = [part for part in _PART_SEPARATORS.split(name) if compact(part)]
    if len(parts) < 2:
        return frozenset()
    return frozenset(theme_key(part) for part in parts)


def same_theme(a: str, b: str) -> bool:
    """Whether two theme names mean one theme (see the module's rules)."""
    key_a, key_b = theme_key(a), theme_key(b)
    if not key_a or not key_b:
        return False
    return key_a == key_b or key_a in part_keys(b) or key_b in part_keys(a)


def match_theme(name: str, existing: Iterable[str]) -> str | None:
    """The existing theme ``name`` means: an exact key match first, else the one compound theme that
    has it as a part (None when none does, or when two do: an ambiguous name is not guessed)."""
    candidates = list(existing)
    key = theme_key(name)
    if not key:
        return None
    for theme in candidates:
        if theme_key(theme) == key:
            return theme
    partial = [theme for theme in candidates if same_theme(name, theme)]
    return partial[0] if len(partial) == 1 else None


def clean_name(name: str) -> str:
    """A new theme's display name: canonical when known, else the name with its spacing tidied and
    a trailing "관련주"/"테마" dropped ("  양자 컴퓨터 관련주 " -> "양자 컴퓨터")."""
    found = canonical(name)
    if found is not None:
        return found
    text = " ".join(unicodedata.normalize("NFKC", name).split())
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(compact(text)) > len(suffix):
            return text[: -len(suffix)].rstrip()
    return text


def spellings(name: str) -> Sequence[str]:
    """Every spelling of ``name``'s theme that the table knows (the name itself when it knows none);
    the rules classifier looks for these in headlines."""
    found = canonical(name)
    if found is None:
        return (name,)
    return next(group for group in SYNONYM_GROUPS if group[0] == found)
