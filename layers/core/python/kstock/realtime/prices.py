"""Prices from KIS REST, in the tick shape of the contract (``"source": "poll"``).

Used by the streamer for symbols without a WebSocket slot (and for snapshots after a reconnect)
and by ``GET /realtime-prices/polling`` for cache misses.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kstock.kis.models import ElwQuote, StockQuote
from kstock.kis.rest import KisRestClient
from kstock.market.codes import Instrument, InstrumentKind
from kstock.market.kistime import iso_utc

STREAM_TR = {InstrumentKind.STOCK: "H0STCNT0", InstrumentKind.ETN: "H0STCNT0", InstrumentKind.ELW: "H0EWCNT0"}


def quote_message(quote: StockQuote | ElwQuote, at: datetime | None = None) -> dict[str, object]:
    """A polled quote as a tick message. ``volume`` is 0: a quote is not a trade."""
    return {
        "type": "tick",
        "symbol": quote.symbol,
        "price": quote.price,
        "volume": 0,
        "accVolume": quote.volume,
        "change": quote.change,
        "changePercent": float(quote.change_percent),
        "timestamp": iso_utc(at or datetime.now(UTC)),
        "source": "poll",
    }


def fetch_quote(client: KisRestClient, instrument: Instrument) -> dict[str, object]:
    """The current price of one instrument over REST (ELW through the ELW quotation)."""
    if instrument.kind is InstrumentKind.ELW:
        return quote_message(client.elw_price(instrument.code))
    return quote_message(client.inquire_price(instrument.code, instrument.kis_market))
