"""The LLM classifier: Gemini, through :mod:`kstock.llm`, places an entrant in a theme from its headlines.

The model sees the active themes (name, description, member count) and the entrant's headlines,
each with its id, and answers :class:`ThemeAnswer` (structured output, validated by pydantic and
then by :func:`checked`). An answer kstock cannot use is an :class:`~kstock.llm.LlmInvalidAnswer`
like a malformed one, so the chain falls back to rules:

- a headline id that was not in the prompt (the model citing news it was not given);
- no headline cited at all (the prompt allows only those headlines as evidence);
- an existing theme (``isNew`` false) that is none of the listed themes, even after name matching;
- an empty theme name, or "미분류" (the model must choose; 미분류 is kstock's own verdict).

A new theme name that matches a listed theme (spacing, synonyms: :mod:`kstock.themes.names`) is
that theme, not a new one. The call is logged by kstock.llm under the feature ``theme_classify``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from kstock.llm import GeminiClient, LlmInvalidAnswer, default_client
from kstock.llm.calls import TokenUsage
from kstock.themes.model import Entrant, Headline, ThemeInfo
from kstock.themes.names import UNCLASSIFIED, clean_name, compact, match_theme

log = logging.getLogger("kstock.themes")

FEATURE = "theme_classify"
CLASSIFIER = "llm"
MAX_HEADLINES = 20  # the first ones (callers pass newest first); more add tokens, not evidence
TEMPERATURE = 0.1  # near-deterministic: the same news should give the same theme

SYSTEM = (
    "너는 한국 주식시장의 테마 분류기다. 급등 종목이 어떤 테마로 움직이는지 뉴스 헤드라인만 근거로 판단한다. "
    "주어진 헤드라인 외의 지식이나 추측을 근거로 쓰지 마라. JSON으로만 답한다."
)


class ThemeAnswer(BaseModel):
    """What Gemini must answer (its responseSchema)."""

    model_config = ConfigDict(populate_by_name=True)

    theme: str = Field(description="기존 테마 이름 그대로, 또는 새 마이크로 테마의 짧은 이름")
    is_new: bool = Field(alias="isNew", description="목록에 없는 새 테마이면 true")
    confidence: float = Field(ge=0.0, le=1.0, description="0에서 1 사이의 확신도")
    reason: str = Field(description="한국어 한 문장으로 된 근거")
    headline_ids: list[int] = Field(alias="headlineIds", description="근거가 된 헤드라인의 id")


@dataclass(frozen=True, slots=True)
class LlmVerdict:
    """A checked answer: ``theme`` is a listed theme's own name, or a cleaned new name."""

    theme: str
    is_new: bool
    confidence: float
    reason: str
    headline_ids: tuple[int, ...]
    model: str
    usage: TokenUsage


def shown(entrant: Entrant) -> tuple[Headline, ...]:
    """The headlines the prompt shows (the only ones an answer may cite)."""
    return entrant.headlines[:MAX_HEADLINES]


def build_prompt(entrant: Entrant, themes: Sequence[ThemeInfo]) -> str:
    theme_lines = "\n".join(
        f"- {theme.name}: {theme.description or '(설명 없음)'} (편입 종목 {theme.member_count}개)" for theme in themes
    )
    headline_lines = "\n".join(f"[{h.id}] {h.title}" for h in shown(entrant))
    return (
        f"종목: {entrant.name} ({entrant.symbol})\n\n"
        f"현재 활성 테마:\n{theme_lines or '- (없음)'}\n\n"
        f"이 종목의 최근 뉴스 헤드라인 (id와 제목):\n{headline_lines}\n\n"
        "질문: 이 종목은 위 테마 중 하나에 속하는가, 아니면 새로운 마이크로 테마에 속하는가?\n"
        "규칙:\n"
        "1. 위 헤드라인만 근거로 삼는다. headlineIds에는 근거가 된 헤드라인의 id만, 위 목록에 있는 id만 넣는다.\n"
        "2. 기존 테마에 속하면 theme에 그 이름을 목록과 똑같이 쓰고 isNew는 false로 한다.\n"
        "3. 어느 테마에도 맞지 않으면 짧은 새 테마 이름(예: 초전도체)을 쓰고 isNew는 true로 한다.\n"
        "4. 다른 테마가 지나가듯 언급된 헤드라인은 근거로 삼지 않는다.\n"
        "5. reason은 한국어 한 문장, confidence는 0과 1 사이의 수로 쓴다."
    )


def checked(answer: ThemeAnswer, entrant: Entrant, themes: Sequence[ThemeInfo]) -> tuple[str, bool, tuple[int, ...]]:
    """(theme, is_new, headline ids) of a usable answer; LlmInvalidAnswer for one kstock refuses."""
    cited = tuple(dict.fromkeys(answer.headline_ids))
    unknown = sorted(set(cited) - {headline.id for headline in shown(entrant)})
    if unknown:
        raise LlmInvalidAnswer(f"the answer cites headline ids that were not given: {unknown}")
    if not cited:
        raise LlmInvalidAnswer("the answer cites no headline")
    name = answer.theme.strip()
    if not compact(name) or compact(name) == compact(UNCLASSIFIED):
        raise LlmInvalidAnswer(f"the answer names no usable theme ({answer.theme!r})")
    existing = match_theme(name, (theme.name for theme in themes))
    if existing is not None:
        return existing, False, cited
    if not answer.is_new:
        raise LlmInvalidAnswer(f"the answer names {name!r} as an existing theme, but no listed theme matches it")
    return clean_name(name), True, cited


def classify_with_llm(
    entrant: Entrant, themes: Sequence[ThemeInfo], *, client: GeminiClient | None = None
) -> LlmVerdict:
    """Ask Gemini; raise an :class:`~kstock.llm.LlmError` when there is no usable answer."""
    gemini = client or default_client()
    result = gemini.generate(
        FEATURE, build_prompt(entrant, themes), ThemeAnswer, system=SYSTEM, temperature=TEMPERATURE
    )
    try:
        theme, is_new, cited = checked(result.value, entrant, themes)
    except LlmInvalidAnswer as exc:
        # The call log says "ok" (Gemini answered in shape); the refusal is ours, so say it here.
        log.warning("theme answer for %s refused: %s", entrant.symbol, exc.message)
        raise
    return LlmVerdict(
        theme=theme,
        is_new=is_new,
        confidence=result.value.confidence,
        reason=" ".join(result.value.reason.split()),
        headline_ids=cited,
        model=result.model,
        usage=result.usage,
    )
