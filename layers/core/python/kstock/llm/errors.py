"""The small exception hierarchy of the Gemini boundary.

Callers catch by meaning: :class:`LlmError` means "no usable answer, fall back to rules"; the
subclasses say why. Each class names the ``outcome`` recorded for it in the ``llm_calls`` log, so
the log and the exceptions never disagree on spelling.
"""

from __future__ import annotations


class LlmError(Exception):
    """Any failure to get a usable answer from the LLM."""

    outcome = "error"

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # HTTP status of the provider's answer, when there was one
        self.reason = reason  # the provider's own word: RESOURCE_EXHAUSTED, SAFETY, MAX_TOKENS ...


class LlmUnavailable(LlmError):
    """No key is configured, or the provider could not be reached or kept failing (5xx)."""

    outcome = "unavailable"


class LlmRateLimited(LlmUnavailable):
    """429 RESOURCE_EXHAUSTED on every attempt (per-minute limit or the provider's daily quota)."""

    outcome = "rate_limited"


class LlmTimeout(LlmUnavailable):
    """No answer within ``GEMINI_TIMEOUT_SECONDS``; never retried (the wait would only multiply)."""

    outcome = "timeout"


class LlmBudgetExceeded(LlmError):
    """kstock's own daily call budget (``LLM_DAILY_CALL_BUDGET``) is spent; refused before any I/O."""

    outcome = "budget_exceeded"


class LlmRejected(LlmError):
    """The provider refused the request itself (4xx other than 429: bad key, bad request, no access)."""

    outcome = "rejected"


class LlmAnswerError(LlmError):
    """The provider answered, but not with something the caller can use."""

    outcome = "bad_answer"


class LlmBlocked(LlmAnswerError):
    """The prompt (promptFeedback.blockReason) or the answer (finishReason SAFETY, ...) was blocked."""

    outcome = "blocked"


class LlmTruncated(LlmAnswerError):
    """finishReason MAX_TOKENS: the answer stopped at the output limit, so its JSON is incomplete."""

    outcome = "truncated"


class LlmIncomplete(LlmAnswerError):
    """Any other finishReason than STOP (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL ...), or no candidate."""

    outcome = "incomplete"


class LlmInvalidAnswer(LlmAnswerError):
    """The answer is not JSON, or does not match the pydantic model the caller asked for."""

    outcome = "invalid_answer"
