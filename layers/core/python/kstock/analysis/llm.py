"""Gemini's analysis through :mod:`kstock.llm`: structured output, then kstock's own checks.

An answer that cites an id the input did not contain (or cites nothing) is refused and asked again
once; a second refusal is an :class:`~kstock.llm.LlmInvalidAnswer` like malformed JSON, so the
caller falls back to rules. Calls are logged by kstock.llm under the features below, so the call log
shows tokens per analysis.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kstock.analysis.inputs import AnalysisInput
from kstock.analysis.prompt import SYSTEM, build_prompt
from kstock.llm import GeminiClient, LlmInvalidAnswer

log = logging.getLogger("kstock.analysis")

FEATURES = {"company": "company_analysis", "industry": "industry_analysis"}
TEMPERATURE = 0.2
ATTEMPTS = 2  # the first answer and one retry after a refused citation
CITABLE_IN_PROMPT = re.compile(r"\[((?:news|filing|fig):[^\]]+)\]")  # how the prompt shows an id


class AnswerPoint(BaseModel):
    text: str = Field(description="한국어 한 문장")
    citations: list[str] = Field(description="근거가 된 항목의 id (프롬프트의 [대괄호] 안 id만)")


class AnalysisAnswer(BaseModel):
    """What Gemini must answer (its responseSchema)."""

    model_config = ConfigDict(populate_by_name=True)

    summary: str = Field(description="한국어 3~5문장 요약")
    outlook: Literal["positive", "neutral", "negative"]
    growth_score: int = Field(alias="growthScore", ge=0, le=100, description="0~100 성장 점수")
    drivers: list[AnswerPoint]
    risks: list[AnswerPoint]


@dataclass(frozen=True)
class LlmAnalysis:
    answer: AnalysisAnswer
    model: str
    total_tokens: int
    calls: int


def check(answer: AnalysisAnswer, data: AnalysisInput) -> None:
    """LlmInvalidAnswer unless every point cites at least one id, and only ids of the input."""
    known = set(data.citables())
    points = [*answer.drivers, *answer.risks]
    if not answer.summary.strip():
        raise LlmInvalidAnswer("the answer has an empty summary")
    unknown = sorted({c for p in points for c in p.citations} - known)
    if unknown:
        raise LlmInvalidAnswer(f"the answer cites ids that were not in the input: {unknown[:5]}")
    if any(not p.citations for p in points):
        raise LlmInvalidAnswer("a driver or risk cites nothing")


def ask(data: AnalysisInput, client: GeminiClient) -> LlmAnalysis:
    """Gemini's checked answer; an LlmError when there is none (the caller uses rules)."""
    prompt = build_prompt(data)
    feature = FEATURES[data.subject]
    tokens = 0
    for attempt in range(1, ATTEMPTS + 1):
        result = client.generate(feature, prompt, AnalysisAnswer, system=SYSTEM, temperature=TEMPERATURE)
        tokens += result.usage.total or 0
        try:
            check(result.value, data)
        except LlmInvalidAnswer as exc:
            # The call log says "ok" (Gemini answered in shape); the refusal is ours, so say it here.
            log.warning("%s %s answer %d refused: %s", data.subject, data.subject_id, attempt, exc.message)
            if attempt == ATTEMPTS:
                raise
            continue
        return LlmAnalysis(result.value, result.model, tokens, attempt)
    raise AssertionError("unreachable")  # the loop returns or raises
