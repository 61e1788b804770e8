"""Batch-mode framing: ``{"type":"ticks","data":[...]}`` messages under API Gateway's 32 KB frame."""

from __future__ import annotations

from kstock_streamer.fanout.newest import News

FRAME_LIMIT = 32 * 1024
BATCH_BUDGET = FRAME_LIMIT - 2048  # bytes of one batch message: headroom below the 32 KB frame
_HEAD, _TAIL = '{"type":"ticks","data":[', "]}"


def take_frame(news: list[News], budget: int = BATCH_BUDGET) -> list[News]:
    """Remove from the front of ``news`` what fits in one message (at least one tick) and return it."""
    parts: list[News] = []
    size = len(_HEAD) + len(_TAIL)
    while news and (not parts or size + len(news[0][2]) + 1 <= budget):
        parts.append(news.pop(0))
        size += len(parts[-1][2]) + 1
    return parts


def encode(parts: list[News]) -> bytes:
    return (_HEAD + ",".join(tick for _, _, tick in parts) + _TAIL).encode()
