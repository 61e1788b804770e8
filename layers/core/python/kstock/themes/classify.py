"""The classification chain of a top-30 entrant: LLM, else rules, else 미분류 (retried later).

1. The LLM (:mod:`kstock.themes.llm`) when a key is configured. Any :class:`~kstock.llm.LlmError`
   (timeout, 429 storm, budget spent, SAFETY block, an invalid or refused answer) falls through,
   and its class and message are kept in ``fallback`` so the member's row says why rules decided.
2. The rules classifier (:mod:`kstock.themes.rules`), labelled ``classifier: "rules"``.
3. When rules cannot decide either: theme "미분류", classifier "rules", ``retry=True``: the stock
   shows at once as unclassified and the worker classifies it again later; it never disappears.

:func:`idempotency_key` names one classification (symbol, KST day, digest of the headlines), so a
redelivered queue message finds the stored answer instead of calling the LLM twice; storing the
key is the worker's business.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from kstock.llm import GeminiClient, LlmError, default_client
from kstock.market.calendar import KST
from kstock.themes import llm as llm_classifier
from kstock.themes.model import Entrant, Headline, ThemeInfo
from kstock.themes.names import UNCLASSIFIED
from kstock.themes.rules import RulesClassifier, RulesVerdict

ClassifierName = Literal["llm", "rules"]
NO_KEY = "LlmUnavailable: GOOGLE_API_KEY is not set"


@dataclass(frozen=True, slots=True)
class Classification:
    """Where an entrant goes and why; what the worker stores with the member."""

    theme: str  # a listed theme's own name, a new theme's cleaned name, or 미분류
    is_new: bool
    classifier: ClassifierName
    confidence: float
    reason: str  # Korean, one sentence
    headline_ids: tuple[int, ...]
    retry: bool = False  # 미분류: classify again later
    fallback: str | None = None  # why the LLM did not decide ("LlmTimeout: no answer within 20 s")
    keywords: tuple[str, ...] = ()  # rules: the words that decided
    llm_called: bool = False  # a request reached (or was refused by) the LLM budget
    tokens: int = 0  # total tokens of the LLM answer used

    @property
    def unclassified(self) -> bool:
        return self.theme == UNCLASSIFIED

    def wire(self) -> dict[str, Any]:
        """camelCase, JSON-ready (message bodies, API rows)."""
        return {
            "theme": self.theme,
            "isNew": self.is_new,
            "classifier": self.classifier,
            "confidence": self.confidence,
            "reason": self.reason,
            "headlineIds": list(self.headline_ids),
            "retry": self.retry,
            "fallback": self.fallback,
            "keywords": list(self.keywords),
        }


def _from_rules(verdict: RulesVerdict, fallback: str | None, llm_called: bool) -> Classification:
    if verdict.theme is None:
        return Classification(
            theme=UNCLASSIFIED,
            is_new=False,
            classifier="rules",
            confidence=0.0,
            reason=f"뉴스 키워드로 테마를 정하지 못해 미분류로 두고 다시 분류합니다 ({verdict.why}).",
            headline_ids=(),
            retry=True,
            fallback=fallback,
            llm_called=llm_called,
        )
    shown = ", ".join(verdict.keywords[:4])
    return Classification(
        theme=verdict.theme,
        is_new=False,
        classifier="rules",
        confidence=verdict.confidence,
        reason=f"헤드라인 {len(verdict.headline_ids)}건의 키워드({shown})가 {verdict.theme} 테마와 일치합니다.",
        headline_ids=verdict.headline_ids,
        fallback=fallback,
        keywords=verdict.keywords,
        llm_called=llm_called,
    )


def _describe(error: LlmError) -> str:
    return f"{type(error).__name__}: {error.message}"


def classify(
    entrant: Entrant,
    themes: Sequence[ThemeInfo],
    *,
    use_llm: bool = True,
    client: GeminiClient | None = None,
    rules: RulesClassifier | None = None,
) -> Classification:
    """The chain. ``rules`` may be a classifier already built for ``themes`` (it learns them once)."""
    fallback: str | None = None
    llm_called = False
    if use_llm:
        gemini = client or default_client()
        if not gemini.available:
            fallback = NO_KEY  # no request, nothing spent: the LLM is simply off
        else:
            llm_called = True
            try:
                verdict = llm_classifier.classify_with_llm(entrant, themes, client=gemini)
            except LlmError as error:
                fallback = _describe(error)
            else:
                return Classification(
                    theme=verdict.theme,
                    is_new=verdict.is_new,
                    classifier="llm",
                    confidence=verdict.confidence,
                    reason=verdict.reason,
                    headline_ids=verdict.headline_ids,
                    llm_called=True,
                    tokens=verdict.usage.total or 0,
                )
    model = rules if rules is not None else RulesClassifier(themes)
    return _from_rules(model.classify(entrant), fallback, llm_called)


def idempotency_key(symbol: str, headlines: Sequence[Headline], at: datetime) -> str:
    """``{symbol}:{KST date}:{digest}``: the same stock, day and news give the same key (in any
    order); a new or edited headline, or the next KST day, gives a new one. ``at`` must be aware."""
    if at.tzinfo is None:
        raise ValueError("idempotency_key needs an aware datetime (KST decides the day)")
    digest = hashlib.sha256()
    for headline in sorted(headlines, key=lambda h: (h.id, h.title)):
        digest.update(f"{headline.id}\x1f{' '.join(headline.title.split())}\x1e".encode())
    return f"{symbol}:{at.astimezone(KST).date().isoformat()}:{digest.hexdigest()[:24]}"
