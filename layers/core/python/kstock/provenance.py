"""Where data came from: a real provider, or one of kstock's local stand-ins (simulated).

Every stand-in (the KIS simulator, the Naver and OpenDART stand-ins) marks each HTTP answer with the header
``X-Kstock-Source: simulated``; real providers never send it. So a label is read off the wire, not off a
setting that could say "simulator" while real KIS answers, or the other way round.

The KIS clients note each answer here (:func:`note_kis_answer`): a process whose KIS is the simulator says so
(``streamer:status`` ``kisSource``, ``GET /health``, the live page's "simulated market" label)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

SOURCE_HEADER = "X-Kstock-Source"
SIMULATED = "simulated"

KisSource = Literal["kis", "simulated"]

_kis_source: KisSource | None = None  # None until this process heard KIS answer


def from_standin(headers: Mapping[str, str]) -> bool:
    """The answer carrying ``headers`` came from a kstock stand-in."""
    return str(headers.get(SOURCE_HEADER, "")).lower() == SIMULATED


def note_kis_answer(headers: Mapping[str, str]) -> None:
    """Remember whether the last KIS answer this process received was the simulator's."""
    global _kis_source
    _kis_source = "simulated" if from_standin(headers) else "kis"


def kis_source() -> KisSource | None:
    """``simulated`` (the KIS simulator), ``kis`` (real KIS), or None before any KIS answer."""
    return _kis_source
