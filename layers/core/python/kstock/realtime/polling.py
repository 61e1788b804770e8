"""``GET /realtime-prices/polling`` (seed 001 section 5): latest prices for any listed codes.

Redis first (``price:{symbol}``, kept fresh by the streamer), KIS REST for the misses (cached for
``cache_ttl`` seconds). Codes are validated with the market's code rules; ELW can be left out.
When neither Redis nor KIS can answer, the caller gets 503 STREAM_UNAVAILABLE.
"""

from __future__ import annotations

import json
from typing import Any, cast

from redis.exceptions import RedisError

from kstock import cache, keys
from kstock.errors import InvalidRequest, StreamUnavailable
from kstock.kis.errors import KisError
from kstock.kis.rest import shared_client
from kstock.market.codes import InstrumentKind, InvalidCode, classify
from kstock.realtime import listing
from kstock.realtime.prices import fetch_quote
from kstock.schemas import CamelModel

MAX_TICKERS = 50


class PolledPrice(CamelModel):
    symbol: str
    price: float
    change: float
    change_percent: float
    volume: int
    acc_volume: int | None = None
    timestamp: str
    source: str
    is_realtime: bool


class PollingAnswer(CamelModel):
    prices: dict[str, PolledPrice]
    cached: int
    fetched: int
    total: int
    skipped: list[str]  # ELW codes left out with include_elw=false
    unavailable: list[str]  # codes neither the cache nor KIS could price right now


def _tickers(raw: str | None) -> list[str]:
    codes = [t.strip() for t in (raw or "").split(",") if t.strip()]
    if not codes:
        raise InvalidRequest("tickers is required: comma-separated codes, e.g. 005930,0015N0")
    if len(codes) > MAX_TICKERS:
        raise InvalidRequest(f"at most {MAX_TICKERS} tickers per request")
    invalid = []
    for code in codes:
        try:
            classify(code)
        except InvalidCode as exc:
            invalid.append(f"{code} ({exc.reason})")
    if invalid:
        raise InvalidRequest("invalid tickers: " + ", ".join(invalid))
    canonical = list(dict.fromkeys(classify(c).code for c in codes))
    # a well-formed code of nothing listed is the client's mistake (400), not KIS being down (503)
    missing = listing.unknown(canonical)
    if missing:
        raise InvalidRequest("unknown tickers (not listed): " + ", ".join(missing))
    return canonical


def _price(message: dict[str, Any]) -> PolledPrice:
    return PolledPrice(
        symbol=message["symbol"],
        price=message["price"],
        change=message["change"],
        change_percent=message["changePercent"],
        volume=message["volume"],
        acc_volume=message.get("accVolume"),
        timestamp=message["timestamp"],
        source=message["source"],
        is_realtime=message["source"] == "ws",
    )


def poll(tickers: str | None, include_elw: bool = True, cache_ttl: int = 10) -> PollingAnswer:
    codes = _tickers(tickers)
    skipped = [c for c in codes if not include_elw and classify(c).kind is InstrumentKind.ELW]
    wanted = [c for c in codes if c not in skipped]
    prices: dict[str, PolledPrice] = {}
    redis_ok = True
    try:
        # redis-py types commands as ``Awaitable | Any`` (sync and async share signatures)
        cached = cast(list[str | None], cache.client().mget([keys.latest_price(c) for c in wanted]) if wanted else [])
        for code, raw in zip(wanted, cached, strict=True):
            if raw:
                prices[code] = _price(json.loads(raw))
    except RedisError:
        redis_ok = False
    cached_count = len(prices)
    misses = [c for c in wanted if c not in prices]
    kis_failed = []
    for code in misses:
        try:
            message = fetch_quote(shared_client(), classify(code))
        except KisError:
            kis_failed.append(code)
            continue
        prices[code] = _price(message)
        if redis_ok:
            try:
                cache.client().set(keys.latest_price(code), json.dumps(message), ex=cache_ttl)
            except RedisError:
                redis_ok = False
    if wanted and not prices and kis_failed:
        raise StreamUnavailable("no live price source is answering (cache and KIS both unavailable)")
    return PollingAnswer(
        prices={c: prices[c] for c in wanted if c in prices},
        cached=cached_count,
        fetched=len(misses) - len(kis_failed),
        total=len(codes),
        skipped=skipped,
        unavailable=kis_failed,
    )
