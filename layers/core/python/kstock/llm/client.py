"""kstock's one door to Gemini: structured answers through google-genai, budgeted, retried, logged.

A feature asks :meth:`GeminiClient.generate` with a prompt and the pydantic model it expects; it
gets that model back (in an :class:`LlmResult`) or an :class:`~kstock.llm.errors.LlmError` that
says why not, and falls back to rules. In between, in this order:

1. no ``GOOGLE_API_KEY`` -> :class:`LlmUnavailable` (nothing recorded: the LLM is simply off);
2. one call is reserved against the KST day's budget -> :class:`LlmBudgetExceeded` past it;
3. ``generateContent`` with ``responseMimeType: application/json`` and a ``responseSchema`` built
   by google-genai from the model, retried with tenacity on 429 / 5xx / connection failures;
4. the answer is read (blocked, truncated, unfinished) and validated against the model;
5. the call, whatever its outcome, is written to ``llm_calls`` with tokens and latency.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

if TYPE_CHECKING:  # annotations only: google-genai is imported when a call is made
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types

from kstock.config import Settings, get_settings
from kstock.llm import budget, calls
from kstock.llm.answers import answer_text, parse_answer, usage_of
from kstock.llm.calls import NO_USAGE, CallRecord, TokenUsage
from kstock.llm.errors import (
    LlmAnswerError,
    LlmBudgetExceeded,
    LlmError,
    LlmRateLimited,
    LlmRejected,
    LlmTimeout,
    LlmUnavailable,
)

log = logging.getLogger("kstock.llm")

Model = TypeVar("Model", bound=BaseModel)

# Pinned rather than the SDK's default (v1 in google-genai 3): structured output (responseSchema)
# and systemInstruction are documented on v1beta, and v1 has rejected fields the SDK sends.
API_VERSION = "v1beta"
_MAX_ERROR_CHARS = 300  # error text kept in llm_calls


@dataclass(frozen=True)
class LlmResult(Generic[Model]):
    """A validated answer and what it cost."""

    value: Model
    model: str  # the modelVersion that answered (else the model asked)
    usage: TokenUsage
    latency_ms: int
    attempts: int


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _timeout_ms(seconds: float) -> int:
    # google-genai's HttpOptions.timeout is in milliseconds (an int), not seconds.
    return max(1, math.ceil(seconds * 1000))


def _transport_classes(name: str) -> tuple[type[BaseException], ...]:
    """``name`` (TimeoutException, TransportError) from httpx and httpx2: google-genai releases use
    one or the other (3.6 depends on httpx2 only), so neither may be assumed installed."""
    found: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    if not found:
        raise ImportError(f"google-genai's HTTP library (httpx2 or httpx) has no {name}")
    return tuple(found)


@functools.cache
def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeouts, transport failures) of the SDK's HTTP library, looked up on the first call."""
    return _transport_classes("TimeoutException"), _transport_classes("TransportError")


_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _retry_delay(details: Any) -> float | None:
    """The google.rpc.RetryInfo delay of an error body ("37s"), when Gemini sent one."""
    error = details.get("error", details) if isinstance(details, dict) else None
    for detail in (error or {}).get("details") or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


class _Retryable(LlmUnavailable):
    """Internal: an attempt that may be repeated (429, 5xx, no connection); ``error`` is what to raise."""

    def __init__(self, error: LlmUnavailable, retry_after: float | None = None) -> None:
        super().__init__(error.message, status=error.status, reason=error.reason)
        self.error = error
        self.retry_after = retry_after


class GeminiClient:
    """Structured Gemini calls for kstock's features. Thread-safe; one per process is enough.

    ``backoff_initial`` / ``backoff_max`` (seconds) shape the exponential, fully jittered waits
    between attempts; tests make them small. ``clock`` decides the budget day and ``called_at``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
    ) -> None:
        self._settings = settings or get_settings()
        self._clock = clock
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._sdk: genai.Client | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self._settings.gemini_model

    @property
    def available(self) -> bool:
        """Whether a key is configured (callers may skip building a prompt when it is not)."""
        return bool(self._key())

    def _key(self) -> str:
        key = self._settings.google_api_key
        return key.get_secret_value().strip() if key is not None else ""

    def close(self) -> None:
        with self._lock:
            if self._sdk is not None:
                self._sdk.close()
                self._sdk = None

    def generate(
        self,
        feature: str,
        prompt: str,
        schema: type[Model],
        *,
        system: str | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
    ) -> LlmResult[Model]:
        """Ask for an answer shaped like ``schema``; raise an LlmError subclass when there is none."""
        sdk = self._client()  # LlmUnavailable without a key: before the budget, nothing recorded
        called_at = self._clock()
        started = time.monotonic()
        day = calls.kst_day(called_at)
        if budget.reserve_call(day, self._settings.llm_daily_call_budget) is None:
            refused = LlmBudgetExceeded(
                f"the daily LLM budget of {self._settings.llm_daily_call_budget} calls is spent (KST {day})"
            )
            self._record(called_at, feature, started, 0, refused)
            raise refused

        from google.genai import types  # the SDK costs ~0.6 s to import: only callers of the LLM pay it

        config = types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=schema,
            system_instruction=system,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
        )
        attempts = 0

        def attempt() -> types.GenerateContentResponse:
            nonlocal attempts
            attempts += 1
            return self._send(sdk, prompt, config)

        usage = NO_USAGE
        version: str | None = None
        try:
            response = self._retrying()(attempt)
            usage, version = usage_of(response), response.model_version
            value = parse_answer(answer_text(response), schema)
        except LlmError as error:
            failure = error.error if isinstance(error, _Retryable) else error
            self._record(called_at, feature, started, attempts, failure, usage, version)
            raise failure from error.__cause__
        except Exception as exc:
            # A bug, not a provider failure (a schema Gemini cannot express, say): logged as a call
            # like any other, and raised as it is so it is seen rather than silently falling back.
            self._record(called_at, feature, started, attempts, LlmError(f"{type(exc).__name__}: {exc}"))
            raise
        latency = self._record(called_at, feature, started, attempts, None, usage, version)
        return LlmResult(value, version or self.model, usage, latency, attempts)

    # -- one request -------------------------------------------------------------------------------

    def _client(self) -> genai.Client:
        key = self._key()
        if not key:
            raise LlmUnavailable("GOOGLE_API_KEY is not set: the LLM is off, use the rule-based result")
        with self._lock:
            if self._sdk is None:
                from google import genai
                from google.genai import types

                options = types.HttpOptions(
                    base_url=self._settings.gemini_base_url,
                    api_version=API_VERSION,
                    timeout=_timeout_ms(self._settings.gemini_timeout_seconds),
                    # One attempt per SDK request: the retries are ours (with the budget and log
                    # around them); retries stacked in two layers would multiply.
                    retry_options=types.HttpRetryOptions(attempts=1),
                )
                self._sdk = genai.Client(api_key=key, http_options=options)
            return self._sdk

    def _send(
        self, sdk: genai.Client, prompt: str, config: types.GenerateContentConfig
    ) -> types.GenerateContentResponse:
        from google.genai import errors as genai_errors

        try:
            return sdk.models.generate_content(model=self.model, contents=prompt, config=config)
        except genai_errors.APIError as exc:
            raise self._api_error(exc) from exc
        except json.JSONDecodeError as exc:
            # HTTP 200 with a body that is not JSON: a proxy's page, not Gemini. Not retried.
            raise LlmUnavailable("Gemini answered HTTP 200 with a body that is not JSON") from exc
        except _transport_errors()[0] as exc:
            seconds = self._settings.gemini_timeout_seconds
            raise LlmTimeout(f"no answer within {seconds:g} s") from exc
        except _transport_errors()[1] as exc:
            # Connection refused or reset: retried like a 503. A reset after the request was read
            # may cost a second call, bounded by GEMINI_MAX_ATTEMPTS and counted once in the budget.
            raise _Retryable(LlmUnavailable(f"Gemini unreachable: {type(exc).__name__}")) from exc

    def _api_error(self, exc: genai_errors.APIError) -> LlmError:
        from google.genai import errors as genai_errors

        code, status = exc.code, exc.status
        message = f"{code} {status}: {exc.message or ''}".strip()
        if code == 429:
            return _Retryable(LlmRateLimited(message, status=code, reason=status), _retry_delay(exc.details))
        if isinstance(exc, genai_errors.ServerError):
            return _Retryable(LlmUnavailable(message, status=code, reason=status))
        if isinstance(exc, genai_errors.ClientError):
            return LlmRejected(message, status=code, reason=status)
        return LlmUnavailable(message, status=code, reason=status)

    def _retrying(self) -> Retrying:
        jitter = wait_random_exponential(multiplier=self._backoff_initial, max=self._backoff_max)

        def wait(state: RetryCallState) -> float:
            # Honour Gemini's RetryInfo when it asks for longer than our jitter, within our ceiling.
            error = state.outcome.exception() if state.outcome else None
            asked = error.retry_after if isinstance(error, _Retryable) else None
            return max(jitter(state), min(asked or 0.0, self._backoff_max))

        return Retrying(
            stop=stop_after_attempt(self._settings.gemini_max_attempts),
            wait=wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
            reraise=True,
        )

    # -- the log -----------------------------------------------------------------------------------

    def _record(
        self,
        called_at: datetime,
        feature: str,
        started: float,
        attempts: int,
        error: LlmError | None,
        usage: TokenUsage = NO_USAGE,
        version: str | None = None,
    ) -> int:
        latency = round((time.monotonic() - started) * 1000)
        record = CallRecord(
            called_at=called_at,
            feature=feature,
            model=self.model,
            outcome=calls.OK if error is None else error.outcome,
            latency_ms=latency,
            attempts=attempts,
            usage=usage,
            model_version=version,
            error=None if error is None else self._short(error.message),
        )
        try:
            calls.record(record)
        except Exception:  # the answer (already paid for) matters more than its log row
            log.exception("could not record an LLM call of %s (%s)", feature, record.outcome)
        if isinstance(error, LlmAnswerError | LlmRejected) or (error is not None and attempts > 1):
            log.warning("LLM call of %s failed after %d attempt(s): %s", feature, attempts, record.error)
        return latency

    def _short(self, message: str) -> str:
        """One line, bounded, and never the key (an error body might echo a request)."""
        text = " ".join(message.split())
        key = self._key()
        if key:
            text = text.replace(key, "***")
        return text[:_MAX_ERROR_CHARS]


_default: tuple[Settings, GeminiClient] | None = None
_default_lock = threading.Lock()


def default_client() -> GeminiClient:
    """The process's client, rebuilt when the settings are reloaded (tests, ``kstock up``)."""
    global _default
    settings = get_settings()
    with _default_lock:
        if _default is None or _default[0] is not settings:
            if _default is not None:
                _default[1].close()
            _default = (settings, GeminiClient(settings))
        return _default[1]


def generate(
    feature: str,
    prompt: str,
    schema: type[Model],
    *,
    system: str | None = None,
    temperature: float | None = None,
    max_output_tokens: int | None = None,
) -> LlmResult[Model]:
    """:meth:`GeminiClient.generate` on the process's client."""
    return default_client().generate(
        feature, prompt, schema, system=system, temperature=temperature, max_output_tokens=max_output_tokens
    )
