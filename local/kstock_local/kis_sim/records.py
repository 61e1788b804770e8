"""Realtime records as KIS lays them out: H0STCNT0 (46 fields), H0EWCNT0 (63), H0UPCNT0 (30), H0STASP0 (59)."""

from __future__ import annotations

from kstock_local.kis_sim.market import IndexState, Security, Trade
from kstock_local.kis_sim.orderbook import Book, Quote, build_book


def quote_of(sec: Security, price: int | None = None, side: str | None = None, acc_volume: int | None = None) -> Quote:
    """The book's view of ``sec``, now or as it stood right after one of its trades."""
    return Quote(
        sec.symbol,
        sec.price if price is None else price,
        sec.last_side if side is None else side,
        sec.acc_volume if acc_volume is None else acc_volume,
        sec.lower,
        sec.upper,
        sec.is_elw,
        sec.lot,
        sec.book_shift,
    )


def _diff_sign(diff: float) -> str:
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def _sign_at(s: Security, price: int) -> str:
    """KIS's sign of ``price`` against the previous close: 1 at the upper limit, 4 at the lower one."""
    if not s.is_elw and price >= s.upper:
        return "1"
    if not s.is_elw and price <= s.lower:
        return "4"
    return _diff_sign(price - s.prev_close)


def _trade_fields(trade: Trade, day: str) -> list[str]:
    """The 40 fields stock and ELW trades share (H0STCNT0 0..39); the best ask and bid and their
    quantities are the book's right after this trade (orderbook.py), on the ladder."""
    s: Security = trade.security
    price = trade.price
    book = build_book(quote_of(s, price, trade.side, trade.acc_volume))
    (ask, ask_qty), (bid, bid_qty) = book.best_ask, book.best_bid
    sell_qty = s.sell_qty or 1
    prev_volume = s.prev_volume or 1
    return [
        s.symbol,
        trade.clock,
        str(price),
        _sign_at(s, price),
        str(price - s.prev_close),
        f"{(price - s.prev_close) * 100.0 / (s.prev_close or 1):.2f}",
        f"{s.vwap:.2f}",
        str(s.open),
        str(s.high),
        str(s.low),
        str(ask),
        str(bid),
        str(trade.qty),
        str(trade.acc_volume),
        str(s.acc_value),
        str(s.sell_count),
        str(s.buy_count),
        str(s.buy_count - s.sell_count),
        f"{s.buy_qty * 100 / sell_qty:.2f}",
        str(s.sell_qty),
        str(s.buy_qty),
        trade.side,
        f"{s.buy_qty * 100 / (s.acc_volume or 1):.2f}",
        f"{s.acc_volume * 100 / prev_volume:.2f}",
        s.open_time,
        _diff_sign(price - s.open),
        str(price - s.open),
        s.high_time,
        _diff_sign(price - s.high),
        str(price - s.high),
        s.low_time,
        _diff_sign(price - s.low),
        str(price - s.low),
        day,
        "20",
        "N",
        str(ask_qty),
        str(bid_qty),
        str(book.total_ask),
        str(book.total_bid),
    ]


def trade_record(trade: Trade, day: str, extra_fields: int = 0) -> str:
    """One record (no frame header); ``extra_fields`` appends unknown trailing fields (layout drift)."""
    s = trade.security
    fields = _trade_fields(trade, day)
    if s.is_elw:
        u = s.underlying
        fields += [
            "0",
            "0",
            "0",
            f"{(u.price if u else 0) * s.ratio / max(1, s.price):.2f}",
            "0.00",
            "0",
            "0.00",
            "0.00",
            "0.00",
            "0.5000",
            "0.0001",
            "10.0000",
            "-1.5000",
            "0.5000",
            "25.00",
            str(s.price),
            f"{s.acc_volume * 100 / s.listed_shares:.2f}",
            str(s.prev_volume),
            "100.00",
            "0.00",
            "0",
            "0.00",
            "0",
        ]
    else:
        fields += [
            f"{s.acc_volume * 100 / s.listed_shares:.2f}",
            str(s.prev_volume),
            f"{s.acc_volume * 100 / (s.prev_volume or 1):.2f}",
            "0",
            "",
            str(s.prev_close),
        ]
    if extra_fields:
        fields += [f"X{i}" for i in range(extra_fields)]
    return "^".join(fields)


def index_record(index: IndexState, clock: str, tick_volume: int, extra_fields: int = 0) -> str:
    upper, up, flat, down, lower = index.counts()
    sign = "2" if index.value > index.prev_close else "5" if index.value < index.prev_close else "3"
    prev = index.prev_close or 1

    def rate(x: float) -> str:
        return f"{(x - prev) * 100 / prev:.2f}"

    fields = [
        index.code,
        clock,
        f"{index.value:.2f}",
        sign,
        f"{index.change:.2f}",
        str(index.acc_volume),
        str(index.acc_value // 1_000_000),
        str(tick_volume),
        "0",
        f"{index.change_percent:.2f}",
        f"{index.open:.2f}",
        f"{index.high:.2f}",
        f"{index.low:.2f}",
        f"{index.value - index.open:.2f}",
        _diff_sign(index.value - index.open),
        f"{index.value - index.high:.2f}",
        _diff_sign(index.value - index.high),
        f"{index.value - index.low:.2f}",
        _diff_sign(index.value - index.low),
        rate(index.open),
        rate(index.high),
        rate(index.low),
        str(upper),
        str(up),
        str(flat),
        str(down),
        str(lower),
        "0",
        "0",
        "0",
    ]
    if extra_fields:
        fields += [f"X{i}" for i in range(extra_fields)]
    return "^".join(fields)


def book_record(
    sec: Security, clock: str, book: Book, previous: tuple[int, int] | None = None, extra_fields: int = 0
) -> str:
    """One H0STASP0 record (59 fields): ten ask prices, ten bid prices, their quantities, the totals
    and their change since this symbol's previous book (``previous``: its total ask and bid). The
    expected-price (동시호가) and after-hours fields are 0 in the regular session, as on KIS."""
    prev_ask, prev_bid = previous or (book.total_ask, book.total_bid)
    fields = [sec.symbol, clock, "0"]  # HOUR_CLS_CODE 0: the regular session
    fields += [str(price) for price, _ in book.asks]
    fields += [str(price) for price, _ in book.bids]
    fields += [str(qty) for _, qty in book.asks]
    fields += [str(qty) for _, qty in book.bids]
    fields += [str(book.total_ask), str(book.total_bid), "0", "0"]  # + OVTM_TOTAL_ASKP/BIDP_RSQN
    fields += ["0", "0", "0", "0", "0", "0.00"]  # ANTC_CNPR, _CNQN, _VOL, _CNTG_VRSS, its sign, _PRDY_CTRT
    fields += [str(sec.acc_volume), str(book.total_ask - prev_ask), str(book.total_bid - prev_bid)]
    fields += ["0", "0", "00"]  # OVTM_TOTAL_ASKP/BIDP_ICDC, STCK_DEAL_CLS_CODE
    if extra_fields:
        fields += [f"X{i}" for i in range(extra_fields)]
    return "^".join(fields)


def frame(tr_id: str, records: list[str]) -> str:
    """``0|TR|NNN|rec^rec...``: plain (unencrypted) data frame of up to 999 records."""
    return f"0|{tr_id}|{len(records):03d}|{'^'.join(records)}"
