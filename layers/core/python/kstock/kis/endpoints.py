"""KIS addresses, paths and TR ids: one table shared by the client and the simulator."""

from __future__ import annotations

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
)

# Realtime TRs kstock consumes.
TR_STOCK_TRADE = "H0STCNT0"
TR_ELW_TRADE = "H0EWCNT0"
TR_INDEX_TRADE = "H0UPCNT0"

# Index codes (market division U).
KOSPI = "0001"
KOSDAQ = "1001"
KOSPI200 = "2001"

# No KIS key and no KIS_REST_URL / KIS_WS_URL: the simulator's default address (plain HTTP/WS on loopback on
# the real ports). `kstock up` always passes KIS_REST_URL / KIS_WS_URL (the simulator's, from LocalSettings).
SIM_HOST = "127.0.0.1"
SIM_REST_PORT = 9443
SIM_WS_PORT = 21000


def uses_simulator(settings: Settings) -> bool:
    """No app key configured -> kstock talks to its local simulator."""
    return settings.kis_app_key is None


def rest_base_url(settings: Settings) -> str:
    if settings.kis_rest_url:
        return settings.kis_rest_url.rstrip("/")
    if uses_simulator(settings):
        return f"http://{SIM_HOST}:{SIM_REST_PORT}"
    return REAL_REST_URL if settings.kis_env == "real" else MOCK_REST_URL


def ws_url(settings: Settings) -> str:
    """The WebSocket URL to dial; a configured URL with a path is used as is."""
    if settings.kis_ws_url:
        base = settings.kis_ws_url.rstrip("/")
    elif uses_simulator(settings):
        base = f"ws://{SIM_HOST}:{SIM_WS_PORT}"
    else:
        base = REAL_WS_URL if settings.kis_env == "real" else MOCK_WS_URL
    return base if urlsplit(base).path not in ("", "/") else base + WS_PATH
