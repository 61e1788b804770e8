"""The analysis as stored and served (``GET /companies/{id}/analysis``, ``GET /industries/{id}/analysis``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kstock.analysis.inputs import Citable
from kstock.analysis.rules import Component, Outlook
from kstock.schemas import CamelModel


class Point(CamelModel):
    """A driver or a risk: one sentence and what it rests on, resolved to titles and links."""

    text: str
    citations: list[Citable]


class Analysis(CamelModel):
    subject: Literal["company", "industry"]
    subject_id: int
    name: str
    summary: str = Field(description="Korean, 3-5 sentences.")
    outlook: Outlook
    growth_score: int = Field(ge=0, le=100)
    drivers: list[Point]
    risks: list[Point]
    model: str = Field(description='The Gemini model that answered, or "rules" (not AI output).')
    ai_generated: bool = Field(description="False for the rules result: it is a calculation, never AI output.")
    components: list[Component] | None = Field(
        default=None, description="Rules only: each score component's value and contribution (score = 50 + their sum)."
    )
    fallback_reason: str | None = Field(
        default=None, description="Why the rules answered (no key, budget, timeout ...)."
    )
    pending: bool = Field(default=False, description="True while a worker computes the AI analysis of today.")
    simulated: bool = Field(
        default=False, description="Some input came from kstock's local stand-ins (simulated content)."
    )
    generated_at: datetime
    input_as_of: datetime | None = None
    total_tokens: int | None = Field(default=None, description="Tokens of the LLM call(s) behind this analysis.")
