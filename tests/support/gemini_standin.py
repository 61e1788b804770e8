"""A local HTTP server that speaks Gemini's REST wire format, for tests only.

The local stack never fakes Gemini (without a key the features use rules); this stand-in exists
so contract tests can drive kstock's real google-genai client over a real socket.

It answers ``POST /{v1beta|v1}/models/{model}:generateContent`` the way the Gemini API does:

- the key must come in ``x-goog-api-key`` (or ``?key=``): missing -> 403 PERMISSION_DENIED,
  wrong -> 400 INVALID_ARGUMENT "API key not valid" with an ErrorInfo API_KEY_INVALID detail;
- the body must be a GenerateContentRequest: ``contents`` with text parts, only known top-level
  and ``generationConfig`` fields (unknown names -> 400 "Invalid JSON payload received. Unknown
  name ..."), and, unless ``require_structured=False``, ``responseMimeType: application/json``
  with a ``responseSchema`` / ``responseJsonSchema`` (kstock only ever asks for structured output);
- answers carry ``candidates[].content.parts[].text``, ``finishReason``, ``usageMetadata``
  (promptTokenCount, candidatesTokenCount, thoughtsTokenCount, totalTokenCount), ``modelVersion``
  and ``responseId``; errors are ``{"error": {"code", "message", "status", "details"}}``.

Tests script the answers in order (``answer``, ``answer_text``, ``finish``, ``block_prompt``,
``fail``, each with an optional ``delay``) and read back what arrived (``requests``) and what
was sent (``sent``). A request with nothing scripted gets a 500 naming the missing script.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from kstock.config import get_settings
from kstock.llm import GeminiClient
from support.envs import environment

DEFAULT_KEY = "test-gemini-key"
MODEL_VERSION = "gemini-2.5-flash"

_PATH = re.compile(r"^/(?P<version>v1beta|v1)/models/(?P<model>[A-Za-z0-9.\-_]+):generateContent$")
_REQUEST_FIELDS = {
    "contents",
    "systemInstruction",
    "generationConfig",
    "safetySettings",
    "tools",
    "toolConfig",
    "cachedContent",
    "labels",
}
_GENERATION_FIELDS = {
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
    "mediaResolution",
    "_responseJsonSchema",
}
_STRUCTURED_TYPES = {"application/json", "text/x.enum"}

# Real error texts of the Gemini API (generativelanguage.googleapis.com).
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_BAD_KEY = "API key not valid. Please pass a valid API key."
_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more information "
    "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)
_OVERLOADED = "The model is overloaded. Please try again later."
STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``fill_usage``: usageMetadata counted from the request and the answer text."""

    status: int
    body: dict[str, Any] | str
    delay: float = 0.0
    fill_usage: bool = False
    thinking_tokens: int = 0  # counted into the filled usage as thoughtsTokenCount


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any
    api_version: str | None = None
    model: str | None = None

    @property
    def prompt(self) -> str:
        return _texts(self.body.get("contents")) if isinstance(self.body, dict) else ""

    @property
    def system(self) -> str:
        return _texts([self.body.get("systemInstruction")]) if isinstance(self.body, dict) else ""

    @property
    def generation_config(self) -> dict[str, Any]:
        config = self.body.get("generationConfig") if isinstance(self.body, dict) else None
        return config if isinstance(config, dict) else {}


def _texts(contents: Any) -> str:
    texts: list[str] = []
    for content in contents or ():
        for part in (content or {}).get("parts") or ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "\n".join(texts)


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: about four characters a token, as Gemini's docs estimate."""
    return max(1, (len(text) + 3) // 4)


def error_body(
    code: int, message: str, *, status: str | None = None, details: list[Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status or STATUS_TEXT.get(code, "UNKNOWN")}
    if details:
        error["details"] = details
    return {"error": error}


@dataclass
class _Script:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    sent: list[tuple[int, Any]] = field(default_factory=list)


class GeminiStandIn:
    """The stand-in server, in its own event loop thread; use as a context manager."""

    def __init__(
        self, *, api_key: str = DEFAULT_KEY, model_version: str = MODEL_VERSION, require_structured: bool = True
    ) -> None:
        self.api_key = api_key
        self.model_version = model_version
        self.require_structured = require_structured
        self._script = _Script()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gemini-standin", daemon=True)
        self._runner: web.AppRunner | None = None
        self._released: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> GeminiStandIn:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._released = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def _stop(self) -> None:
        if self._released is not None:
            self._released.set()  # delayed answers stop waiting
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What GEMINI_BASE_URL should be (google-genai appends /{version}/models/...)."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -----------------------------------------------------------------------------------

    def push(self, reply: Reply) -> Reply:
        with self._lock:
            self._script.replies.append(reply)
        return reply

    def answer(self, value: BaseModel | dict[str, Any] | list[Any], **kwargs: Any) -> Reply:
        """A finished answer whose text is ``value`` as JSON."""
        text = value.model_dump_json() if isinstance(value, BaseModel) else json.dumps(value, ensure_ascii=False)
        return self.answer_text(text, **kwargs)

    def answer_text(
        self,
        text: str,
        *,
        finish_reason: str = "STOP",
        usage: dict[str, int] | None = None,
        delay: float = 0.0,
        thinking_tokens: int = 0,
    ) -> Reply:
        """An answer whose text is exactly ``text`` (for malformed JSON, say)."""
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": text}], "role": "model"},
            "finishReason": finish_reason,
            "index": 0,
        }
        body = self._envelope([candidate], usage)
        return self.push(Reply(200, body, delay, fill_usage=usage is None, thinking_tokens=thinking_tokens))

    def finish(self, reason: str, *, text: str = "", delay: float = 0.0) -> Reply:
        """A candidate stopped by ``reason`` (SAFETY: no content and a blocked rating; MAX_TOKENS:
        the text so far)."""
        candidate: dict[str, Any] = {"finishReason": reason, "index": 0}
        if text:
            candidate["content"] = {"parts": [{"text": text}], "role": "model"}
        if reason == "SAFETY":
            candidate["safetyRatings"] = [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
            ]
        return self.push(Reply(200, self._envelope([candidate], None), delay, fill_usage=True))

    def block_prompt(self, reason: str = "SAFETY", *, delay: float = 0.0) -> Reply:
        """No candidates: the prompt itself was blocked (promptFeedback.blockReason)."""
        body = self._envelope(None, None)
        body["promptFeedback"] = {
            "blockReason": reason,
            "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}],
        }
        return self.push(Reply(200, body, delay, fill_usage=True))

    def fail(
        self, code: int, message: str | None = None, *, retry_delay: str | None = None, delay: float = 0.0
    ) -> Reply:
        """An error answer; a 429 carries QuotaFailure (and RetryInfo when ``retry_delay``, e.g. "0s")."""
        details: list[Any] = []
        if code == 429:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                            "quotaDimensions": {"location": "global", "model": self.model_version},
                            "quotaValue": "10",
                        }
                    ],
                }
            )
            if retry_delay is not None:
                details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
        default = {429: _QUOTA, 503: _OVERLOADED}.get(code, "Internal error encountered.")
        return self.push(Reply(code, error_body(code, message or default, details=details), delay))

    def _envelope(self, candidates: list[dict[str, Any]] | None, usage: dict[str, int] | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if candidates is not None:
            body["candidates"] = candidates
        if usage is not None:
            body["usageMetadata"] = usage
        body["modelVersion"] = self.model_version
        body["responseId"] = uuid.uuid4().hex[:22]
        return body

    # -- what happened -------------------------------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._script.requests)

    @property
    def sent(self) -> list[tuple[int, Any]]:
        """(status, body) of every answer sent, in order."""
        with self._lock:
            return list(self._script.sent)

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._script.replies)

    # -- the server ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        match = _PATH.match(request.path)
        received = Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=body,
            api_version=match["version"] if match else None,
            model=match["model"] if match else None,
        )
        with self._lock:
            self._script.requests.append(received)
        refusal = self._refusal(request, received, match is not None)
        if refusal is not None:
            return self._send(*refusal)
        with self._lock:
            reply = self._script.replies.popleft() if self._script.replies else None
        if reply is None:
            return self._send(500, error_body(500, "gemini stand-in: no scripted answer left for this request"))
        if reply.delay > 0 and self._released is not None:
            try:
                await asyncio.wait_for(self._released.wait(), reply.delay)
            except TimeoutError:
                pass
        return self._send(reply.status, self._filled(reply, received))

    def _refusal(self, request: web.Request, received: Received, known_path: bool) -> tuple[int, Any] | None:
        if request.method != "POST" or not known_path:
            return 404, error_body(404, f"Method not found: {request.method} {request.path}")
        key = received.headers.get("x-goog-api-key") or received.query.get("key")
        if not key:
            return 403, error_body(403, _NO_KEY)
        if key != self.api_key:
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ]
            return 400, error_body(400, _BAD_KEY, details=details)
        problem = self._body_problem(received.body)
        return None if problem is None else (400, error_body(400, problem))

    def _body_problem(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "Invalid JSON payload received. Expected an object."
        unknown = sorted(set(body) - _REQUEST_FIELDS)
        if unknown:
            return f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return "* GenerateContentRequest.contents: contents is not specified"
        for index, content in enumerate(contents):
            parts = content.get("parts") if isinstance(content, dict) else None
            if not isinstance(parts, list) or not parts:
                return f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty."
            if content.get("role") not in (None, "user", "model"):
                return f"* GenerateContentRequest.contents[{index}].role: Please use a valid role: user, model."
        config = body.get("generationConfig") or {}
        unknown = sorted(set(config) - _GENERATION_FIELDS)
        if unknown:
            name = unknown[0]
            return f"Invalid JSON payload received. Unknown name \"{name}\" at 'generation_config': Cannot find field."
        mime = config.get("responseMimeType")
        if mime is not None and mime not in _STRUCTURED_TYPES and mime != "text/plain":
            return f"* GenerateContentRequest.generation_config.response_mime_type: unsupported type {mime!r}."
        schema = config.get("responseSchema") or config.get("responseJsonSchema")
        if schema is not None and (not isinstance(schema, dict) or "type" not in schema):
            return "* GenerateContentRequest.generation_config.response_schema.type: must be specified"
        if self.require_structured and (mime != "application/json" or schema is None):
            return "gemini stand-in: kstock must ask for structured output (responseMimeType application/json + schema)"
        return None

    def _filled(self, reply: Reply, received: Received) -> Any:
        if not isinstance(reply.body, dict) or not reply.fill_usage:
            return reply.body
        body = dict(reply.body)
        thinking = reply.thinking_tokens
        prompt = count_tokens(received.system + received.prompt)
        answer = sum(count_tokens(_texts([c.get("content")])) for c in body.get("candidates") or () if c.get("content"))
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            "totalTokenCount": prompt + answer + thinking,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        }
        if body.get("candidates") and answer:
            usage["candidatesTokenCount"] = answer
        if thinking:
            usage["thoughtsTokenCount"] = thinking
        body["usageMetadata"] = usage
        return body

    def _send(self, status: int, body: Any) -> web.Response:
        with self._lock:
            self._script.sent.append((status, body))
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/plain")
        return web.Response(
            status=status,
            body=json.dumps(body, ensure_ascii=False).encode(),
            content_type="application/json",
            charset="UTF-8",
        )


# -- what tests of the LLM's callers share -------------------------------------------------------------


def clock_on(day: date) -> datetime:
    """10:00 KST on ``day``, as an aware UTC moment (each test its own far-future KST day)."""
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


def gemini_env(standin: GeminiStandIn, **overrides: str | None) -> Any:
    """Settings that point kstock's LLM client at ``standin``."""
    values: dict[str, str | None] = {
        "GOOGLE_API_KEY": DEFAULT_KEY,
        "GEMINI_BASE_URL": standin.base_url,
        "GEMINI_MAX_ATTEMPTS": "3",
        "GEMINI_TIMEOUT_SECONDS": "30",
        "LLM_DAILY_CALL_BUDGET": "100",
    }
    values.update(overrides)
    return environment(**values)


def make_client(day: date, clock: Callable[[], datetime] | None = None) -> GeminiClient:
    """A client on the current settings with a fixed clock and quick back-off."""
    return GeminiClient(get_settings(), clock=clock or (lambda: clock_on(day)), backoff_initial=0.01, backoff_max=0.05)
