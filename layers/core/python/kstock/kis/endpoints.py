"""KIS addresses, paths and TR ids: one table shared by the client and the simulator.

The addresses come from the settings alone: ``KIS_REST_URL`` / ``KIS_WS_URL`` when set (a proxy; on a
laptop, the simulator ``kstock up`` starts), else the real or mock server of ``KIS_ENV``. Nothing here
knows about a simulator.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from kstock.config import Settings

REAL_REST_URL = "https://openapi.koreainvestment.com:9443"
MOCK_REST_URL = "https://openapivts.koreainvestment.com:29443"
REAL_WS_URL = "ws://ops.koreainvestment.com:21000"
MOCK_WS_URL = "ws://ops.koreainvestment.com:31000"
WS_PATH = "/tryitout"  # the current official helper and pykis; the bare base URL works too

TOKEN_PATH = "/oauth2/tokenP"
REVOKE_PATH = "/oauth2/revokeP"
APPROVAL_PATH = "/oauth2/Approval"

# How long a connect to KIS may take before a scheduled job calls KIS down (:func:`endpoint_down`).
PROBE_TIMEOUT = 0.5

_Q = "/uapi/domestic-stock/v1/quotations"
_R = "/uapi/domestic-stock/v1/ranking"


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    tr_id: str


INQUIRE_PRICE = Endpoint(f"{_Q}/inquire-price", "FHKST01010100")
INQUIRE_DAILY_PRICE = Endpoint(f"{_Q}/inquire-daily-price", "FHKST01010400")
DAILY_ITEM_CHART = Endpoint(f"{_Q}/inquire-daily-itemchartprice", "FHKST03010100")
FLUCTUATION_RANK = Endpoint(f"{_R}/fluctuation", "FHPST01700000")
VOLUME_RANK = Endpoint(f"{_Q}/volume-rank", "FHPST01710000")  # `quotations`, not `ranking`
MARKET_CAP_RANK = Endpoint(f"{_R}/market-cap", "FHPST01740000")
INDEX_PRICE = Endpoint(f"{_Q}/inquire-index-price", "FHPUP02100000")
INDEX_DAILY_PRICE = Endpoint(f"{_Q}/inquire-index-daily-price", "FHPUP02120000")
INDEX_CHART = Endpoint(f"{_Q}/inquire-daily-indexchartprice", "FHKUP03500100")
ELW_PRICE = Endpoint(f"{_Q}/inquire-elw-price", "FHKEW15010000")
ASKING_PRICE = Endpoint(f"{_Q}/inquire-asking-price-exp-ccn", "FHKST01010200")  # the 10-level book

QUOTATION_ENDPOINTS = (
    INQUIRE_PRICE,
    INQUIRE_DAILY_PRICE,
    DAILY_ITEM_CHART,
    FLUCTUATION_RANK,
    VOLUME_RANK,
    MARKET_CAP_RANK,
    INDEX_PRICE,
    INDEX_DAILY_PRICE,
    INDEX_CHART,
    ELW_PRICE,
    ASKING_PRICE,
)

# Realtime TRs kstock consumes.
TR_STOCK_TRADE = "H0STCNT0"
TR_ELW_TRADE = "H0EWCNT0"
TR_INDEX_TRADE = "H0UPCNT0"
TR_ORDER_BOOK = "H0STASP0"  # 호가: ten levels a side, its own registration (and KIS slot)

# Index codes (market division U).
KOSPI = "0001"
KOSDAQ = "1001"
KOSPI200 = "2001"


def rest_base_url(settings: Settings) -> str:
    """``KIS_REST_URL`` when set (a proxy, the local simulator), else KIS's server of ``KIS_ENV``."""
    if settings.kis_rest_url:
        return settings.kis_rest_url.rstrip("/")
    return REAL_REST_URL if settings.kis_env == "real" else MOCK_REST_URL


def ws_url(settings: Settings) -> str:
    """The WebSocket URL to dial: ``KIS_WS_URL`` (with a path, used as is) or KIS's of ``KIS_ENV``."""
    if settings.kis_ws_url:
        base = settings.kis_ws_url.rstrip("/")
    else:
        base = REAL_WS_URL if settings.kis_env == "real" else MOCK_WS_URL
    return base if urlsplit(base).path not in ("", "/") else base + WS_PATH


def endpoint_down(base_url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when nothing accepts a TCP connection at ``base_url``'s host and port within ``timeout``.

    Scheduled jobs ask this before a run: the client's own limits do not make a run fail fast. Measured
    with the default settings against a port that refuses connections, one call took 240 s to give up
    (five attempts, each waiting out the 60 s token-issue guard the failed issue before it had claimed),
    longer than the jobs' timeouts, and a rank watch every minute would pile up behind it. A host that
    drops packets (no route to KIS from the VPC) costs 10 s per attempt. A connect answers in
    milliseconds when KIS is there, so half a second tells "down" from "slow" with room to spare.
    """
    url = urlsplit(base_url)
    port = url.port or (443 if url.scheme in ("https", "wss") else 80)
    try:
        with socket.create_connection((url.hostname or "localhost", port), timeout=timeout):
            return False
    except OSError:
        return True
