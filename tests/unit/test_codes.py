import pytest

from kstock.market.codes import InstrumentKind, InvalidCode, classify, is_valid

VALID = [
    ("005930", "005930", InstrumentKind.STOCK),  # Samsung Electronics
    (" 000660 ", "000660", InstrumentKind.STOCK),  # surrounding space is dropped
    ("A005930", "005930", InstrumentKind.STOCK),  # master-file 'A' prefix
    ("0015N0", "0015N0", InstrumentKind.STOCK),  # newer alphanumeric listing code
    ("0030r0", "0030R0", InstrumentKind.STOCK),  # case-insensitive
    ("Q500001", "Q500001", InstrumentKind.ETN),
    ("57LA24", "57LA24", InstrumentKind.ELW),
    ("52L181", "52L181", InstrumentKind.ELW),
    ("58J297", "58J297", InstrumentKind.ELW),
]

INVALID = [
    ("", "empty code"),
    ("   ", "empty code"),
    ("0059300001", "K-OTC codes (10 digits)"),
    ("00593", "6 characters, this has 5"),
    ("0059301", "6 characters, this has 7"),
    ("ABCDEF", "letters only"),
    ("005-30", "only letters A-Z and digits"),
    ("삼성전자", "only letters A-Z and digits"),
    ("12AB34", "not a stock"),
]


@pytest.mark.parametrize(("raw", "code", "kind"), VALID)
def test_valid_codes_are_classified(raw, code, kind):
    instrument = classify(raw)
    assert (instrument.code, instrument.kind) == (code, kind)
    assert is_valid(raw)


@pytest.mark.parametrize(("raw", "reason"), INVALID)
def test_invalid_codes_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(InvalidCode) as caught:
        classify(raw)
    assert reason in caught.value.reason
    assert not is_valid(raw)


def test_kis_market_division():
    assert classify("005930").kis_market == "J"
    assert classify("57LA24").kis_market == "W"
