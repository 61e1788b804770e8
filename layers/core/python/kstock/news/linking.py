"""Which companies and industries an article names.

An article is linked to every company whose name (or a common short name, :data:`ALIASES`)
occurs in its title or description, and to every industry whose name (or, for "X 제조업"
industries, X itself: "반도체", "의약품") occurs there. One regular expression per kind finds
them all in one pass: alternatives longest first, so "LG에너지솔루션" wins over "LG" at the same
place, and matches never overlap, so "SK하이닉스" never also counts as "SK". A name must not
continue a preceding word (Korean or Latin), and a name ending in a Latin letter or digit must
not run into a following one ("LG" is not in "LGD"); Korean particles after a name are fine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Short names the press uses for reference companies (symbol -> aliases).
ALIASES: dict[str, tuple[str, ...]] = {
    "005380": ("현대차",),
    "035420": ("네이버",),
    "015760": ("한전", "한국전력"),
    "000810": ("삼성화재",),
    "033780": ("KT&G",),
    "030200": ("KT",),
    "010120": ("LS ELECTRIC", "LS일렉트릭"),
    "018260": ("삼성SDS",),
    "326030": ("SK바이오팜",),
    "005490": ("포스코홀딩스",),
    "017670": ("SKT",),
    "161390": ("한국타이어",),
    "036460": ("가스공사",),
    "010950": ("에쓰오일", "S-OIL"),
    "035900": ("JYP엔터테인먼트", "JYP"),
    "122870": ("YG엔터테인먼트",),
}

_BEFORE = r"(?<![0-9A-Za-z가-힣])"


def aliases_of(symbol: str) -> tuple[str, ...]:
    return ALIASES.get(symbol, ())


def industry_terms(name: str) -> list[str]:
    """An industry's name and, for a one-word "X 제조업", X ("반도체 제조업" -> "반도체")."""
    terms = [name]
    core = name.removesuffix(" 제조업")
    if core != name and " " not in core and len(core) >= 2 and not core.startswith("기타"):
        terms.append(core)
    return terms


def _alternative(name: str) -> str:
    after = "(?![0-9A-Za-z])" if name[-1].isascii() and name[-1].isalnum() else ""
    return re.escape(name) + after


@dataclass
class NameMatcher:
    """Finds the ids whose names occur in a text."""

    names: dict[str, set[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ordered = sorted(self.names, key=len, reverse=True)
        self._pattern = re.compile(_BEFORE + "(?:" + "|".join(map(_alternative, ordered)) + ")") if ordered else None

    @classmethod
    def of(cls, entries: Iterable[tuple[int, Iterable[str]]]) -> NameMatcher:
        names: dict[str, set[int]] = {}
        for owner, owner_names in entries:
            for name in owner_names:
                if name.strip():
                    names.setdefault(name.strip(), set()).add(owner)
        return cls(names)

    def find(self, text: str) -> set[int]:
        if self._pattern is None:
            return set()
        return {owner for m in self._pattern.finditer(text) for owner in self.names[m.group(0)]}


@dataclass(frozen=True)
class Linker:
    companies: NameMatcher
    industries: NameMatcher

    @classmethod
    def load(cls, conn: Any) -> Linker:
        """Matchers over the companies and industries tables as they are now."""
        companies = conn.execute("SELECT id, symbol, name FROM companies").fetchall()
        industries = conn.execute("SELECT id, name FROM industries").fetchall()
        return cls(
            NameMatcher.of((r["id"], (r["name"], *aliases_of(r["symbol"]))) for r in companies),
            NameMatcher.of((r["id"], industry_terms(r["name"])) for r in industries),
        )

    def link(self, text: str) -> tuple[set[int], set[int]]:
        """(company ids, industry ids) named in ``text``."""
        return self.companies.find(text), self.industries.find(text)
