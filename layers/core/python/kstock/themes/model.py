"""What the theme classifiers read: the entrant (a stock that just joined the top 30) with its
headlines, and the active themes. Plain frozen values, so the classifiers stay pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Headline:
    """One news headline of the entrant; ``id`` is how an answer cites it (news.id in the database)."""

    id: int
    title: str


@dataclass(frozen=True, slots=True)
class Entrant:
    """The stock to classify."""

    symbol: str
    name: str
    headlines: tuple[Headline, ...]

    @property
    def headline_ids(self) -> frozenset[int]:
        return frozenset(headline.id for headline in self.headlines)


@dataclass(frozen=True, slots=True)
class ThemeInfo:
    """An active theme. ``member_headlines`` (its members' recent headlines) teach the rules
    classifier the theme's vocabulary; the LLM prompt shows only name, description and size."""

    name: str
    description: str = ""
    member_count: int = 0
    member_headlines: tuple[str, ...] = ()
