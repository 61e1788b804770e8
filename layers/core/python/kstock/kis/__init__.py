"""The KIS (Korea Investment & Securities) boundary: REST quotations, auth, realtime WebSocket.

Typical use::

    rest = KisRestClient.from_settings()              # typed quotations, rate limited, retried
    quote = rest.inquire_price("005930")
    ws = KisWebSocket.from_settings(rest.auth)        # approval keys come from the same KisAuth
    async with ws:
        await ws.subscribe("H0STCNT0", "005930")
        async for tick in ws.ticks():
            publish(tick.to_json())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kstock.kis.auth import KisAuth, KisCredentials
    from kstock.kis.connection import ConnectionState, KisWebSocket
    from kstock.kis.errors import (
        KisAppKeyInUse,
        KisAuthError,
        KisError,
        KisMaxSubscriptions,
        KisNotFound,
        KisRateLimited,
        KisTokenExpired,
        KisTokenIssueLimited,
        KisUnavailable,
        KisWsError,
    )
    from kstock.kis.models import OrderBook, Tick
    from kstock.kis.protocol import FrameParser
    from kstock.kis.rest import KisRestClient

# The names above load on first use (PEP 562), not with the package: importing a light submodule
# (errors, deadline, models) must not load the REST client, requests and the WebSocket stack into
# every Lambda function that only names a KIS error (issue 12, cold start per function).
_HOMES = {
    "KisAuth": "auth",
    "KisCredentials": "auth",
    "ConnectionState": "connection",
    "KisWebSocket": "connection",
    "OrderBook": "models",
    "Tick": "models",
    "FrameParser": "protocol",
    "KisRestClient": "rest",
    **dict.fromkeys(
        (
            "KisAppKeyInUse",
            "KisAuthError",
            "KisError",
            "KisMaxSubscriptions",
            "KisNotFound",
            "KisRateLimited",
            "KisTokenExpired",
            "KisTokenIssueLimited",
            "KisUnavailable",
            "KisWsError",
        ),
        "errors",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "ConnectionState",
    "FrameParser",
    "KisAppKeyInUse",
    "KisAuth",
    "KisAuthError",
    "KisCredentials",
    "KisError",
    "KisMaxSubscriptions",
    "KisNotFound",
    "KisRateLimited",
    "KisRestClient",
    "KisTokenExpired",
    "KisTokenIssueLimited",
    "KisUnavailable",
    "KisWebSocket",
    "KisWsError",
    "OrderBook",
    "Tick",
]
