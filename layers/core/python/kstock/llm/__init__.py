"""The Gemini boundary: structured LLM answers for kstock's analysis features.

``generate(feature, prompt, Model)`` returns ``LlmResult[Model]`` or raises an :class:`LlmError`
(no key, budget spent, blocked, truncated, invalid, timed out ...); every call is logged in
``llm_calls`` and counted against ``LLM_DAILY_CALL_BUDGET``. Nothing else in kstock talks to
Gemini. See :mod:`kstock.llm.client`.
"""

from kstock.llm.calls import FeatureUsage, TokenUsage, usage_by_feature, usage_today
from kstock.llm.client import GeminiClient, LlmResult, default_client, generate
from kstock.llm.errors import (
    LlmAnswerError,
    LlmBlocked,
    LlmBudgetExceeded,
    LlmError,
    LlmIncomplete,
    LlmInvalidAnswer,
    LlmRateLimited,
    LlmRejected,
    LlmTimeout,
    LlmTruncated,
    LlmUnavailable,
)

__all__ = [
    "FeatureUsage",
    "GeminiClient",
    "LlmAnswerError",
    "LlmBlocked",
    "LlmBudgetExceeded",
    "LlmError",
    "LlmIncomplete",
    "LlmInvalidAnswer",
    "LlmRateLimited",
    "LlmRejected",
    "LlmResult",
    "LlmTimeout",
    "LlmTruncated",
    "LlmUnavailable",
    "TokenUsage",
    "default_client",
    "generate",
    "usage_by_feature",
    "usage_today",
]
