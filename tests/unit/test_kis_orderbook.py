"""The H0STASP0 order-book parser: the 59-field layout, the record count, layout drift, empty levels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kstock.kis.errors import MalformedFrame
from kstock.kis.models import OrderBook
from kstock.kis.protocol import H0STASP0_FIELDS, FrameParser, frame_tr_id, is_book_frame

ASKS = [71500 + 100 * i for i in range(10)]
BIDS = [71400 - 100 * i for i in range(10)]


def _record(symbol: str = "005930", *, asks: list[int] = ASKS, bids: list[int] = BIDS, extra: int = 0) -> str:
    """One record in the official order (docs/kis-protocol.md section 5), quantities 1000 + level."""
    ask_qty = [1000 + i for i in range(10)]
    bid_qty = [2000 + i for i in range(10)]
    values = [symbol, "093015", "0", *map(str, asks), *map(str, bids), *map(str, ask_qty), *map(str, bid_qty)]
    values += [str(sum(q for p, q in zip(asks, ask_qty, strict=True) if p)), str(sum(bid_qty)), "0", "0"]
    values += ["0", "0", "0", "0", "0", "0.00", "2154903", "-1523", "2211", "0", "0", "00"]
    values += [f"X{i}" for i in range(extra)]
    return "^".join(values)


def _frame(*records: str) -> str:
    return f"0|H0STASP0|{len(records):03d}|{'^'.join(records)}"


def _parser() -> FrameParser:
    return FrameParser(today=lambda: "20250714")


def test_one_record_in_the_official_layout():
    assert len(_record().split("^")) == len(H0STASP0_FIELDS) == 59
    [book] = _parser().parse_book_frame(_frame(_record()))
    assert isinstance(book, OrderBook) and book.symbol == "005930"
    assert book.asks == tuple((p, 1000 + i) for i, p in enumerate(ASKS))
    assert book.bids == tuple((p, 2000 + i) for i, p in enumerate(BIDS))
    assert (book.total_ask_qty, book.total_bid_qty, book.acc_volume, book.hour_class) == (10045, 20045, 2154903, "0")
    assert book.timestamp == datetime(2025, 7, 14, 0, 30, 15, tzinfo=UTC)  # 09:30:15 KST
    assert book.to_message() == {
        "type": "orderbook",
        "symbol": "005930",
        "asks": [[p, 1000 + i] for i, p in enumerate(ASKS)],
        "bids": [[p, 2000 + i] for i, p in enumerate(BIDS)],
        "totalAskQty": 10045,
        "totalBidQty": 20045,
        "timestamp": "2025-07-14T00:30:15.000Z",
    }


def test_the_record_count_splits_the_payload():
    parser = _parser()
    books = parser.parse_book_frame(_frame(_record("005930"), _record("000660"), _record("035720")))
    assert [b.symbol for b in books] == ["005930", "000660", "035720"]
    assert (parser.stats.frames, parser.stats.records) == (1, 3)


def test_extra_trailing_fields_are_layout_drift_not_errors():
    parser = _parser()
    books = parser.parse_book_frame(_frame(_record("005930", extra=3), _record("000660", extra=3)))
    assert [b.symbol for b in books] == ["005930", "000660"]
    assert books[1].asks[0] == (ASKS[0], 1000) and books[1].acc_volume == 2154903
    assert parser.stats.drift == {"H0STASP0": 62}


def test_levels_beyond_the_price_limit_are_left_out():
    asks = ASKS[:4] + [0] * 6  # at the upper limit: four ask levels left
    [book] = _parser().parse_book_frame(_frame(_record(asks=asks)))
    assert [p for p, _ in book.asks] == ASKS[:4] and len(book.bids) == 10


@pytest.mark.parametrize(
    "raw",
    [
        "0|H0STASP0|002|" + _record(),  # count says two, one record's worth of values
        "0|H0STASP0|001|" + "^".join(_record().split("^")[:40]),  # too narrow to hold the totals
        "0|H0STASP0|abc|" + _record(),
        "0|H0STCNT0|001|" + _record(),  # a trade TR is not a book
    ],
)
def test_malformed_book_frames_are_counted_and_skipped(raw):
    parser = _parser()
    with pytest.raises(MalformedFrame):
        parser.parse_book_frame(raw)
    assert parser.parse_books(raw) == [] and parser.stats.malformed_frames == 1


def test_a_bad_record_is_skipped_and_the_others_kept():
    bad = _record("000660").replace("^71500^", "^7l500^", 1)
    parser = _parser()
    books = parser.parse_book_frame(_frame(_record("005930"), bad))
    assert [b.symbol for b in books] == ["005930"] and parser.stats.skipped_records == 1


def test_book_frames_are_told_from_trade_frames():
    assert frame_tr_id(_frame(_record())) == "H0STASP0" and is_book_frame(_frame(_record()))
    assert not is_book_frame("0|H0STCNT0|001|005930^093015") and frame_tr_id("garbage") == ""
    with pytest.raises(MalformedFrame):
        _parser().parse_frame(_frame(_record()))  # the tick parser refuses it rather than misread it
