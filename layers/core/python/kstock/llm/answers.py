"""Reading one generateContent answer: its token usage, whether it finished, and its JSON.

Gemini answers HTTP 200 for a blocked prompt (no candidates, ``promptFeedback.blockReason``) and
for an answer cut short (``finishReason`` other than STOP); both must become errors here, or a
caller would validate half an answer. Tokens are read first and separately, because a blocked or
truncated answer is still billed and still goes into the call log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from kstock.llm.calls import TokenUsage

if TYPE_CHECKING:
    from google.genai import types
from kstock.llm.errors import LlmBlocked, LlmIncomplete, LlmInvalidAnswer, LlmTruncated

Model = TypeVar("Model", bound=BaseModel)

# finishReason values that mean "a filter stopped the answer" (the rest of the non-STOP reasons
# are LlmIncomplete). Gemini adds reasons over time; unknown ones fall through to LlmIncomplete.
_BLOCKING_FINISHES = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
_ERROR_DETAILS = 3  # validation errors quoted in an LlmInvalidAnswer message


def usage_of(response: types.GenerateContentResponse) -> TokenUsage:
    meta = response.usage_metadata
    if meta is None:
        return TokenUsage()
    return TokenUsage(
        prompt=meta.prompt_token_count,
        answer=meta.candidates_token_count,
        thinking=meta.thoughts_token_count,
        total=meta.total_token_count,
    )


def _name(value: object) -> str:
    # The SDK gives enum members for known values and plain strings for ones it does not know yet.
    return str(getattr(value, "value", value))


def answer_text(response: types.GenerateContentResponse) -> str:
    """The first candidate's text, or the error that says why there is none to use."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = _name(feedback.block_reason)
        detail = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
        raise LlmBlocked(f"prompt blocked ({reason}){detail}", reason=reason)
    if not response.candidates:
        raise LlmIncomplete("the answer has no candidate")
    candidate = response.candidates[0]
    finish = _name(candidate.finish_reason) if candidate.finish_reason is not None else "STOP"
    if finish in _BLOCKING_FINISHES:
        raise LlmBlocked(f"answer blocked (finishReason {finish})", reason=finish)
    if finish == "MAX_TOKENS":
        raise LlmTruncated("answer cut at the output token limit (finishReason MAX_TOKENS)", reason=finish)
    if finish != "STOP":
        raise LlmIncomplete(f"answer did not finish (finishReason {finish})", reason=finish)
    parts = candidate.content.parts if candidate.content is not None else None
    # Thinking models may return thought summaries as parts flagged `thought`; they are not the answer.
    text = "".join(part.text for part in parts or () if part.text and not part.thought)
    if not text.strip():
        raise LlmInvalidAnswer("the answer is empty")
    return text


def parse_answer(text: str, schema: type[Model]) -> Model:
    """Validate the answer's JSON against the caller's model."""
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False)
        if any(problem["type"] == "json_invalid" for problem in problems):
            raise LlmInvalidAnswer(f"the answer is not valid JSON ({problems[0]['msg']})") from exc
        shown = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '<root>'}: {problem['msg']}"
            for problem in problems[:_ERROR_DETAILS]
        )
        more = f" (+{len(problems) - _ERROR_DETAILS} more)" if len(problems) > _ERROR_DETAILS else ""
        raise LlmInvalidAnswer(f"the answer does not match {schema.__name__}: {shown}{more}") from exc
