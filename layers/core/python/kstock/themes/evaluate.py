"""Measuring the theme classifiers on a hand-labelled golden set (``kstock themes eval FILE``).

A case is one JSON line: ``{symbol, name, headlines: [...], themes: [{name, description}],
expected}`` (and an optional ``note`` for the reader). Headline ids are their positions, from 1.

How the shipped set (``golden.jsonl``, beside this module) was labelled, by hand:

1. ``expected`` is the theme a reader would pick from the **headlines alone**, not from what else
   the company does: 한화에어로스페이스 is 방산 when its headlines are about K9 howitzers and
   우주항공 when they are about Nuri rockets (both cases are in the set).
2. A theme named **in passing** ("2차전지 약세 속 화장품주 강세" for a cosmetics maker) is not the
   stock's theme; the headlines about the company decide.
3. Names are compared spelling-insensitively (:func:`kstock.themes.names.same_theme`): a case may
   list its themes as "이차전지" or "전력기기" and expect them so.
4. A **new theme** case expects a name that matches none of its listed themes (초전도체, 양자컴퓨터,
   스테이블코인). A classifier is right on it when it does *not* force the stock into a listed theme:
   it proposes a new theme (the LLM, any name) or leaves it 미분류 (the rules classifier cannot
   invent names; 미분류 with a retry is its correct answer). Whether a proposed new name matches
   the expected one is counted apart ("new names matched").
5. Companies are real listed companies; headlines are written neutrally in the style of Korean
   market news, describing the kind of news a theme moves on, not specific events.

Keeping the rules classifier honest: its keyword sets are learned only from the case's theme
descriptions and from ``members.jsonl``, a separate corpus of member headlines per theme (the
headlines a theme's existing members had), written apart from the golden set. No golden headline
appears in it, and it never names a golden case's company (``tests/test_theme_eval.py`` checks
both). Its thresholds were chosen on that corpus, not on the golden set.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from kstock.llm import GeminiClient
from kstock.themes.classify import Classification, classify
from kstock.themes.model import Entrant, Headline, ThemeInfo
from kstock.themes.names import UNCLASSIFIED, match_theme, same_theme
from kstock.themes.rules import RulesClassifier

EvalClassifier = Literal["rules", "llm"]
GOLDEN = "golden.jsonl"
MEMBERS = "members.jsonl"


class GoldenTheme(BaseModel):
    name: str = Field(min_length=1)
    description: str = ""


class GoldenCase(BaseModel):
    symbol: str
    name: str
    headlines: list[str] = Field(min_length=1)
    themes: list[GoldenTheme] = Field(min_length=1)
    expected: str = Field(min_length=1)
    note: str | None = None

    def entrant(self) -> Entrant:
        return Entrant(self.symbol, self.name, tuple(Headline(i, t) for i, t in enumerate(self.headlines, 1)))

    @property
    def expects_new(self) -> bool:
        """The expected theme is none of the listed ones (a genuinely new micro theme)."""
        return match_theme(self.expected, (theme.name for theme in self.themes)) is None


class MemberTheme(BaseModel):
    theme: str
    members: list[str] = []
    headlines: list[str] = []


class CaseFileError(ValueError):
    """A line of a cases file that is not a case."""


def _lines(text: str, source: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("//"):
            yield number, line
    if not text.strip():
        raise CaseFileError(f"{source}: no cases")


def parse_cases(text: str, source: str = "<cases>") -> list[GoldenCase]:
    cases: list[GoldenCase] = []
    for number, line in _lines(text, source):
        try:
            cases.append(GoldenCase.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            raise CaseFileError(f"{source}:{number}: {where}: {first['msg']}") from exc
    return cases


def load_cases(path: Path) -> list[GoldenCase]:
    return parse_cases(path.read_text(encoding="utf-8"), str(path))


def golden_text() -> str:
    """The shipped golden set (package data)."""
    return resources.files("kstock.themes").joinpath(GOLDEN).read_text(encoding="utf-8")


def member_corpus() -> list[MemberTheme]:
    """The shipped member-headline corpus (package data)."""
    text = resources.files("kstock.themes").joinpath(MEMBERS).read_text(encoding="utf-8")
    return [MemberTheme.model_validate_json(line) for line in text.splitlines() if line.strip()]


def theme_infos(case: GoldenCase, corpus: Sequence[MemberTheme]) -> tuple[ThemeInfo, ...]:
    """The case's themes as the worker would load them: the corpus entry of the same theme (by
    name matching, so "이차전지" finds "2차전지") gives the member count and member headlines."""
    by_name = {entry.theme: entry for entry in corpus}
    infos: list[ThemeInfo] = []
    for theme in case.themes:
        found = match_theme(theme.name, by_name)
        entry = by_name[found] if found is not None else MemberTheme(theme=theme.name)
        infos.append(ThemeInfo(theme.name, theme.description, len(entry.members), tuple(entry.headlines)))
    return tuple(infos)


def judge(case: GoldenCase, got: Classification) -> bool:
    """Right or wrong, by the labelling rules above."""
    if case.expects_new:
        return got.is_new or got.theme == UNCLASSIFIED
    return not got.is_new and same_theme(got.theme, case.expected)


@dataclass(frozen=True, slots=True)
class Outcome:
    case: GoldenCase
    got: Classification
    correct: bool

    @property
    def got_label(self) -> str:
        return f"{self.got.theme} (new)" if self.got.is_new else self.got.theme

    @property
    def expected_label(self) -> str:
        return f"{self.case.expected} (new)" if self.case.expects_new else self.case.expected


@dataclass
class EvalReport:
    classifier: EvalClassifier
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def correct(self) -> int:
        return sum(outcome.correct for outcome in self.outcomes)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def confusion(self) -> list[tuple[str, str, int]]:
        """(expected, got, count) of the wrong answers, most frequent first."""
        wrong = Counter((o.expected_label, o.got_label) for o in self.outcomes if not o.correct)
        return [(expected, got, count) for (expected, got), count in sorted(wrong.items(), key=lambda i: (-i[1], i[0]))]

    def count(self, predicate: Callable[[Outcome], bool]) -> int:
        return sum(1 for outcome in self.outcomes if predicate(outcome))

    @property
    def llm_calls(self) -> int:
        return self.count(lambda o: o.got.llm_called)

    @property
    def tokens(self) -> int:
        return sum(outcome.got.tokens for outcome in self.outcomes)


def evaluate(
    cases: Sequence[GoldenCase],
    classifier: EvalClassifier = "rules",
    *,
    client: GeminiClient | None = None,
    corpus: Sequence[MemberTheme] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Classify every case (``llm``: the whole chain, LLM first, as the worker runs it)."""
    members = member_corpus() if corpus is None else corpus
    report = EvalReport(classifier)
    learned: dict[tuple[ThemeInfo, ...], RulesClassifier] = {}  # cases share theme lists: learn each once
    for done, case in enumerate(cases, 1):
        infos = theme_infos(case, members)
        rules = learned.get(infos) or learned.setdefault(infos, RulesClassifier(infos))
        got = classify(case.entrant(), infos, use_llm=classifier == "llm", client=client, rules=rules)
        report.outcomes.append(Outcome(case, got, judge(case, got)))
        if progress is not None:
            progress(done, len(cases))
    return report


def format_report(report: EvalReport, *, verbose: bool = False) -> str:
    lines = [f"classifier: {report.classifier}", f"cases: {report.total}"]
    lines.append(f"accuracy: {report.accuracy:.2f} ({report.correct}/{report.total})")
    new_cases = [o for o in report.outcomes if o.case.expects_new]
    if new_cases:
        named = sum(1 for o in new_cases if o.got.is_new and same_theme(o.got.theme, o.case.expected))
        kept_out = sum(1 for o in new_cases if o.correct)
        lines.append(
            f"new-theme cases: {len(new_cases)}, kept out of listed themes {kept_out}, new names matched {named}"
        )
    unclassified = report.count(lambda o: o.got.theme == UNCLASSIFIED)
    lines.append(f"unclassified (retry): {unclassified}")
    if report.classifier == "llm":
        answered = report.count(lambda o: o.got.classifier == "llm")
        lines.append(f"LLM calls: {report.llm_calls}, answered by the LLM: {answered}, tokens: {report.tokens}")
        fallbacks = Counter(
            (o.got.fallback or "").split(":")[0] for o in report.outcomes if o.got.classifier == "rules"
        )
        if fallbacks:
            lines.append("rules fallbacks: " + ", ".join(f"{name} {n}" for name, n in sorted(fallbacks.items())))
    confusion = report.confusion()
    lines.append("confusion (expected -> got: count):" if confusion else "confusion: none")
    lines.extend(f"  {expected} -> {got}: {count}" for expected, got, count in confusion)
    if verbose:
        lines.append("cases:")
        for o in report.outcomes:
            mark = "ok " if o.correct else "ERR"
            lines.append(
                f"  {mark} {o.case.symbol} {o.case.name}: {o.expected_label} -> {o.got_label} "
                f"[{o.got.classifier} {o.got.confidence:.2f}] {o.got.reason}"
            )
    return "\n".join(lines)


def dumps_case(case: GoldenCase) -> str:
    """One case as a JSON line (tests and tools that write case files)."""
    return json.dumps(case.model_dump(exclude_none=True), ensure_ascii=False)
