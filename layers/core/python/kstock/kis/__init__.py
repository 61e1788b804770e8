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
from kstock.kis.models import Tick
from kstock.kis.protocol import FrameParser
from kstock.kis.rest import KisRestClient

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
    "Tick",
]
