"""The event loop of kstock's long-lived processes (the streamer, the local cloud, benchmarks).

uvloop where it is installed: its transports cost a fraction of asyncio's per socket read and
write, and these processes make tens of thousands a second (one ``@connections`` call per
message). Without it (Windows), asyncio's own loop does the same work, slower.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop when available."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
