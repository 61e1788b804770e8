"""The KIS realtime WebSocket protocol (docs/kis-protocol.md sections 3, 4, 7).

* client -> server: subscribe / unsubscribe JSON (``tr_type`` 1 / 2);
* server -> client: control JSON (acks with AES iv/key, OPSP errors, PINGPONG) and data frames
  ``<encrypted 0|1>|<TR_ID>|<count>|<payload>``, the payload being ``count`` records of the TR's
  fields joined by ``^`` with no record separator. Trade and index frames parse into
  :class:`Tick` (:meth:`FrameParser.parse`), order-book frames (H0STASP0, section 5) into
  :class:`OrderBook` (:meth:`FrameParser.parse_books`); :func:`frame_tr_id` tells them apart.

KIS appends fields to layouts without notice (python-kis issues #68, #80), so the record width
is derived from ``count`` and only known fields are read, by position of their name. Parsing is
on the hot path: one split per frame, positional indexing, slotted ticks, cached timestamps.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kstock.kis.errors import (
    KisAppKeyInUse,
    KisInvalidApproval,
    KisMaxSubscriptions,
    KisSubscriptionError,
    KisWsError,
    MalformedFrame,
)
from kstock.kis.models import FALLING_SIGNS, OrderBook, Tick
from kstock.market.calendar import KST

_Record = TypeVar("_Record")  # what one TR's record parses into (a Tick, an OrderBook)

log = logging.getLogger("kstock.kis.protocol")

SUBSCRIBE = "1"
UNSUBSCRIBE = "2"
PINGPONG = "PINGPONG"

# -- layouts -------------------------------------------------------------------------------------

H0STCNT0_FIELDS = (
    "MKSC_SHRN_ISCD",
    "STCK_CNTG_HOUR",
    "STCK_PRPR",
    "PRDY_VRSS_SIGN",
    "PRDY_VRSS",
    "PRDY_CTRT",
    "WGHN_AVRG_STCK_PRC",
    "STCK_OPRC",
    "STCK_HGPR",
    "STCK_LWPR",
    "ASKP1",
    "BIDP1",
    "CNTG_VOL",
    "ACML_VOL",
    "ACML_TR_PBMN",
    "SELN_CNTG_CSNU",
    "SHNU_CNTG_CSNU",
    "NTBY_CNTG_CSNU",
    "CTTR",
    "SELN_CNTG_SMTN",
    "SHNU_CNTG_SMTN",
    "CCLD_DVSN",
    "SHNU_RATE",
    "PRDY_VOL_VRSS_ACML_VOL_RATE",
    "OPRC_HOUR",
    "OPRC_VRSS_PRPR_SIGN",
    "OPRC_VRSS_PRPR",
    "HGPR_HOUR",
    "HGPR_VRSS_PRPR_SIGN",
    "HGPR_VRSS_PRPR",
    "LWPR_HOUR",
    "LWPR_VRSS_PRPR_SIGN",
    "LWPR_VRSS_PRPR",
    "BSOP_DATE",
    "NEW_MKOP_CLS_CODE",
    "TRHT_YN",
    "ASKP_RSQN1",
    "BIDP_RSQN1",
    "TOTAL_ASKP_RSQN",
    "TOTAL_BIDP_RSQN",
    "VOL_TNRT",
    "PRDY_SMNS_HOUR_ACML_VOL",
    "PRDY_SMNS_HOUR_ACML_VOL_RATE",
    "HOUR_CLS_CODE",
    "MRKT_TRTM_CLS_CODE",
    "VI_STND_PRC",
)
# ELW trades share the first 40 stock fields (21 is named CNTG_CLS_CODE there), then ELW measures.
H0EWCNT0_FIELDS = (
    H0STCNT0_FIELDS[:21]
    + ("CNTG_CLS_CODE",)
    + H0STCNT0_FIELDS[22:40]
    + (
        "TMVL_VAL",
        "PRIT",
        "PRMM_VAL",
        "GEAR",
        "PRLS_QRYR_RATE",
        "INVL_VAL",
        "PRMM_RATE",
        "CFP",
        "LVRG_VAL",
        "DELTA",
        "GAMA",
        "VEGA",
        "THETA",
        "RHO",
        "HTS_INTS_VLTL",
        "HTS_THPR",
        "VOL_TNRT",
        "PRDY_SMNS_HOUR_ACML_VOL",
        "PRDY_SMNS_HOUR_ACML_VOL_RATE",
        "APPRCH_RATE",
        "LP_HVOL",
        "LP_HLDN_RATE",
        "LP_NTBY_QTY",
    )
)
H0UPCNT0_FIELDS = (
    "BSTP_CLS_CODE",
    "BSOP_HOUR",
    "PRPR_NMIX",
    "PRDY_VRSS_SIGN",
    "BSTP_NMIX_PRDY_VRSS",
    "ACML_VOL",
    "ACML_TR_PBMN",
    "PCAS_VOL",
    "PCAS_TR_PBMN",
    "PRDY_CTRT",
    "OPRC_NMIX",
    "NMIX_HGPR",
    "NMIX_LWPR",
    "OPRC_VRSS_NMIX_PRPR",
    "OPRC_VRSS_NMIX_SIGN",
    "HGPR_VRSS_NMIX_PRPR",
    "HGPR_VRSS_NMIX_SIGN",
    "LWPR_VRSS_NMIX_PRPR",
    "LWPR_VRSS_NMIX_SIGN",
    "PRDY_CLPR_VRSS_OPRC_RATE",
    "PRDY_CLPR_VRSS_HGPR_RATE",
    "PRDY_CLPR_VRSS_LWPR_RATE",
    "UPLM_ISSU_CNT",
    "ASCN_ISSU_CNT",
    "STNR_ISSU_CNT",
    "DOWN_ISSU_CNT",
    "LSLM_ISSU_CNT",
    "QTQT_ASCN_ISSU_CNT",
    "QTQT_DOWN_ISSU_CNT",
    "TICK_VRSS",
)
BOOK_DEPTH = 10  # levels a side
# The order book: ten ask prices (best, i.e. lowest, first), ten bid prices (best, i.e. highest,
# first), their quantities in the same order, totals, the expected-price block, the day's volume.
H0STASP0_FIELDS = (
    ("MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE")
    + tuple(f"ASKP{i}" for i in range(1, BOOK_DEPTH + 1))
    + tuple(f"BIDP{i}" for i in range(1, BOOK_DEPTH + 1))
    + tuple(f"ASKP_RSQN{i}" for i in range(1, BOOK_DEPTH + 1))
    + tuple(f"BIDP_RSQN{i}" for i in range(1, BOOK_DEPTH + 1))
    + (
        "TOTAL_ASKP_RSQN",
        "TOTAL_BIDP_RSQN",
        "OVTM_TOTAL_ASKP_RSQN",
        "OVTM_TOTAL_BIDP_RSQN",
        "ANTC_CNPR",
        "ANTC_CNQN",
        "ANTC_VOL",
        "ANTC_CNTG_VRSS",
        "ANTC_CNTG_VRSS_SIGN",
        "ANTC_CNTG_PRDY_CTRT",
        "ACML_VOL",
        "TOTAL_ASKP_RSQN_ICDC",
        "TOTAL_BIDP_RSQN_ICDC",
        "OVTM_TOTAL_ASKP_ICDC",
        "OVTM_TOTAL_BIDP_ICDC",
        "STCK_DEAL_CLS_CODE",
    )
)
assert len(H0STCNT0_FIELDS) == 46 and len(H0EWCNT0_FIELDS) == 63 and len(H0UPCNT0_FIELDS) == 30
assert len(H0STASP0_FIELDS) == 59

LAYOUTS: dict[str, tuple[str, ...]] = {
    "H0STCNT0": H0STCNT0_FIELDS,
    "H0UNCNT0": H0STCNT0_FIELDS,  # KRX+NXT combined, same layout
    "H0NXCNT0": H0STCNT0_FIELDS,  # NXT, same layout
    "H0EWCNT0": H0EWCNT0_FIELDS,
    "H0UPCNT0": H0UPCNT0_FIELDS,
}

# Positions read for trades (stock and ELW share them).
_T = {
    name: H0STCNT0_FIELDS.index(name)
    for name in (
        "MKSC_SHRN_ISCD",
        "STCK_CNTG_HOUR",
        "STCK_PRPR",
        "PRDY_VRSS_SIGN",
        "PRDY_VRSS",
        "PRDY_CTRT",
        "STCK_OPRC",
        "STCK_HGPR",
        "STCK_LWPR",
        "CNTG_VOL",
        "ACML_VOL",
        "BSOP_DATE",
    )
}
_I = {
    name: H0UPCNT0_FIELDS.index(name)
    for name in (
        "BSTP_CLS_CODE",
        "BSOP_HOUR",
        "PRPR_NMIX",
        "PRDY_VRSS_SIGN",
        "BSTP_NMIX_PRDY_VRSS",
        "ACML_VOL",
        "PCAS_VOL",
        "PRDY_CTRT",
        "OPRC_NMIX",
        "NMIX_HGPR",
        "NMIX_LWPR",
    )
}
BOOK_LAYOUTS: dict[str, tuple[str, ...]] = {"H0STASP0": H0STASP0_FIELDS}
_B = {
    name: H0STASP0_FIELDS.index(name)
    for name in (
        "MKSC_SHRN_ISCD",
        "BSOP_HOUR",
        "HOUR_CLS_CODE",
        "ASKP1",
        "BIDP1",
        "ASKP_RSQN1",
        "BIDP_RSQN1",
        "TOTAL_ASKP_RSQN",
        "TOTAL_BIDP_RSQN",
        "ACML_VOL",
    )
}
_TRADE_MIN_WIDTH = max(_T.values()) + 1
_INDEX_MIN_WIDTH = max(_I.values()) + 1
_BOOK_MIN_WIDTH = max(_B.values()) + 1


# -- client -> server ----------------------------------------------------------------------------


def subscription_message(
    approval_key: str, tr_id: str, tr_key: str, *, subscribe: bool = True, custtype: str = "P"
) -> str:
    """The register (tr_type 1) or release (tr_type 2) request."""
    return json.dumps(
        {
            "header": {
                "approval_key": approval_key,
                "custtype": custtype,
                "tr_type": SUBSCRIBE if subscribe else UNSUBSCRIBE,
                "content-type": "utf-8",
            },
            "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
        },
        separators=(",", ":"),
    )


# -- control JSON --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlMessage:
    tr_id: str
    tr_key: str
    encrypt: bool
    rt_cd: str
    msg_cd: str
    msg1: str
    iv: str | None
    key: str | None
    raw: str

    @property
    def is_pingpong(self) -> bool:
        return self.tr_id == PINGPONG

    @property
    def ok(self) -> bool:
        """Success, counting OPSP0002 ALREADY IN SUBSCRIBE (the subscription is alive)."""
        return self.rt_cd == "0" or self.msg_cd == "OPSP0002"

    @property
    def is_unsubscribe(self) -> bool:
        return self.msg_cd in ("OPSP0001", "OPSP0003") or self.msg1[:5].upper() == "UNSUB"


def parse_control(raw: str) -> ControlMessage:
    """A server JSON message; raises :class:`MalformedFrame` when it is not one."""
    try:
        data = json.loads(raw)
        header = data["header"]
        body = data.get("body") or {}
        output = body.get("output") or {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedFrame(f"bad control message: {type(exc).__name__}") from exc
    if not isinstance(header, dict) or not isinstance(body, dict) or not isinstance(output, dict):
        raise MalformedFrame("bad control message: unexpected JSON shape")
    return ControlMessage(
        tr_id=str(header.get("tr_id", "")),
        tr_key=str(header.get("tr_key", "")),
        encrypt=header.get("encrypt") == "Y",
        rt_cd=str(body.get("rt_cd", "")),
        msg_cd=str(body.get("msg_cd", "")),
        msg1=str(body.get("msg1", "")),
        iv=output.get("iv"),
        key=output.get("key"),
        raw=raw,
    )


def control_error(msg: ControlMessage) -> KisWsError:
    """The exception a refused control answer stands for."""
    kind: type[KisWsError]
    if msg.msg_cd == "OPSP0008":
        kind = KisMaxSubscriptions
    elif msg.msg_cd == "OPSP8996":
        kind = KisAppKeyInUse
    elif msg.msg_cd in ("OPSP0010", "OPSP0011"):
        kind = KisInvalidApproval
    else:
        kind = KisSubscriptionError
    return kind(msg.msg1 or "refused", code=msg.msg_cd or None, tr_id=msg.tr_id, tr_key=msg.tr_key)


def is_data_frame(raw: str) -> bool:
    return raw[:1] in ("0", "1")


def frame_tr_id(raw: str) -> str:
    """The TR id of a data frame (``""`` when it has none): which parser method it goes to."""
    parts = raw.split("|", 2)
    return parts[1] if len(parts) == 3 else ""


def is_book_frame(raw: str) -> bool:
    return frame_tr_id(raw) in BOOK_LAYOUTS


# -- AES-256-CBC ---------------------------------------------------------------------------------


def aes_decrypt(key: str, iv: str, ciphertext_b64: str) -> str:
    """Decrypt an encrypted payload: key/iv are the ack's UTF-8 strings (32/16 bytes), PKCS#7."""
    decryptor = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
    padded = decryptor.update(base64.b64decode(ciphertext_b64)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")


def aes_encrypt(key: str, iv: str, plaintext: str) -> str:
    """The inverse (used by the simulator and tests)."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


# -- data frames ---------------------------------------------------------------------------------

_KST_OFFSET = timedelta(hours=9)  # Korea has no DST
_ts_cache: dict[str, datetime] = {}


def _timestamp(day: str, clock: str) -> datetime:
    """KST ``YYYYMMDD`` + ``HHMMSS`` -> aware UTC, cached (trades share their second)."""
    key = day + clock
    moment = _ts_cache.get(key)
    if moment is None:
        if len(day) != 8 or len(clock) != 6 or not key.isdigit():
            raise ValueError(f"bad KIS date/time {day!r} {clock!r}")
        moment = (
            datetime(
                int(day[:4]), int(day[4:6]), int(day[6:]), int(clock[:2]), int(clock[2:4]), int(clock[4:]), tzinfo=UTC
            )
            - _KST_OFFSET
        )
        if len(_ts_cache) > 50_000:
            _ts_cache.clear()
        _ts_cache[key] = moment
    return moment


def _kst_today() -> str:
    return datetime.now(KST).strftime("%Y%m%d")


@dataclass
class ParserStats:
    frames: int = 0
    records: int = 0
    malformed_frames: int = 0
    skipped_records: int = 0
    drift: dict[str, int] = field(default_factory=dict)  # tr_id -> width seen that differs from the layout


class FrameParser:
    """Parses data frames into :class:`Tick` lists; one per connection (it holds AES keys).

    :meth:`parse` never raises: a malformed frame is logged, counted and skipped so that one
    bad frame never kills the reader loop. :meth:`parse_frame` raises :class:`MalformedFrame`.
    """

    def __init__(self, today: Callable[[], str] = _kst_today) -> None:
        self._keys: dict[str, tuple[str, str]] = {}
        self._today = today
        self.stats = ParserStats()

    def set_key(self, tr_id: str, key: str, iv: str) -> None:
        """AES material of a TR, from its subscribe ack (KIS keys by TR id)."""
        self._keys[tr_id] = (key, iv)

    def parse(self, raw: str) -> list[Tick]:
        try:
            return self.parse_frame(raw)
        except MalformedFrame as exc:
            self.stats.malformed_frames += 1
            log.warning("skipping malformed KIS frame: %s (%.80r)", exc.message, raw)
            return []

    def parse_frame(self, raw: str) -> list[Tick]:
        tr_id, values, count, width = self._split(raw, LAYOUTS)
        if tr_id == "H0UPCNT0":
            if width < _INDEX_MIN_WIDTH:
                raise MalformedFrame(f"{width} fields per record, index layout needs {_INDEX_MIN_WIDTH}")
            ticks = self._index_records(values, count, width)
        else:
            if width < _TRADE_MIN_WIDTH:
                raise MalformedFrame(f"{width} fields per record, trade layout needs {_TRADE_MIN_WIDTH}")
            ticks = self._trade_records(tr_id, values, count, width)
        self.stats.records += len(ticks)
        return ticks

    def parse_books(self, raw: str) -> list[OrderBook]:
        """:meth:`parse_book_frame` that never raises (a malformed frame is logged and counted)."""
        try:
            return self.parse_book_frame(raw)
        except MalformedFrame as exc:
            self.stats.malformed_frames += 1
            log.warning("skipping malformed KIS book frame: %s (%.80r)", exc.message, raw)
            return []

    def parse_book_frame(self, raw: str) -> list[OrderBook]:
        """An H0STASP0 frame: ``count`` records whose width is derived from the count, known fields
        read by position (trailing fields KIS may add are ignored, as for trades)."""
        _, values, count, width = self._split(raw, BOOK_LAYOUTS)
        if width < _BOOK_MIN_WIDTH:
            raise MalformedFrame(f"{width} fields per record, order-book layout needs {_BOOK_MIN_WIDTH}")
        books = self._book_records(values, count, width)
        self.stats.records += len(books)
        return books

    def _split(self, raw: str, layouts: dict[str, tuple[str, ...]]) -> tuple[str, list[str], int, int]:
        """(tr_id, values, record count, fields per record) of a data frame of one of ``layouts``."""
        parts = raw.split("|", 3)
        if len(parts) != 4:
            raise MalformedFrame("expected flag|tr_id|count|payload")
        flag, tr_id, count_text, payload = parts
        layout = layouts.get(tr_id)
        if layout is None:
            raise MalformedFrame(f"unknown TR {tr_id[:12]!r}")
        try:
            count = int(count_text)
        except ValueError:
            raise MalformedFrame(f"bad record count {count_text[:8]!r}") from None
        if count <= 0:
            raise MalformedFrame("record count must be positive")
        if flag == "1":
            payload = self._decrypt(tr_id, payload)
        elif flag != "0":
            raise MalformedFrame(f"bad encryption flag {flag[:4]!r}")
        values = payload.split("^")
        width, rest = divmod(len(values), count)
        if rest:
            raise MalformedFrame(f"{len(values)} values do not split into {count} records")
        if width != len(layout):
            self._note_drift(tr_id, width, len(layout))
        self.stats.frames += 1
        return tr_id, values, count, width

    def _decrypt(self, tr_id: str, payload: str) -> str:
        material = self._keys.get(tr_id)
        if material is None:
            raise MalformedFrame(f"encrypted {tr_id} frame before its key")
        try:
            return aes_decrypt(material[0], material[1], payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedFrame(f"cannot decrypt {tr_id} frame: {type(exc).__name__}") from None

    def _note_drift(self, tr_id: str, width: int, known: int) -> None:
        if self.stats.drift.get(tr_id) != width:
            self.stats.drift[tr_id] = width
            log.warning(
                "KIS %s layout drift: %d fields per record, %d known; reading known fields by position",
                tr_id,
                width,
                known,
            )

    def _records(
        self,
        tr_id: str,
        v: list[str],
        count: int,
        width: int,
        parse: Callable[[str, list[str], int], _Record],
        arg: str,
    ) -> list[_Record]:
        """``parse(arg, values, offset)`` of each record; a record that does not parse is skipped and counted.
        (``arg`` is passed, not bound with functools.partial: this is the ingest's hot loop.)"""
        out: list[_Record] = []
        append = out.append
        for b in range(0, count * width, width):
            try:
                append(parse(arg, v, b))
            except (ValueError, InvalidOperation) as exc:
                self.stats.skipped_records += 1
                log.warning("skipping bad %s record: %s", tr_id, exc)
        return out

    def _trade_records(self, tr_id: str, v: list[str], count: int, width: int) -> list[Tick]:
        return self._records(tr_id, v, count, width, _trade, tr_id)

    def _book_records(self, v: list[str], count: int, width: int) -> list[OrderBook]:
        return self._records("H0STASP0", v, count, width, _order_book, self._today())

    def _index_records(self, v: list[str], count: int, width: int) -> list[Tick]:
        return self._records("H0UPCNT0", v, count, width, _index_tick, self._today())


def _trade(tr_id: str, v: list[str], b: int) -> Tick:
    """One H0STCNT0 / H0EWCNT0 record at offset ``b`` (fields by the official layout's positions)."""
    sign = v[b + 3]
    change = int(v[b + 4])
    pct = float(v[b + 5])
    if sign in FALLING_SIGNS and change > 0:  # normalise to signed values
        change, pct = -change, -pct
    return Tick(
        tr_id,
        v[b],
        int(v[b + 2]),
        change,
        sign,
        pct,
        int(v[b + 12]),
        int(v[b + 13]),
        int(v[b + 7]),
        int(v[b + 8]),
        int(v[b + 9]),
        _timestamp(v[b + 33], v[b + 1]),
    )


def _index_tick(day: str, v: list[str], b: int) -> Tick:
    """One H0UPCNT0 (index) record at offset ``b``: it carries no date, so the session's day is given."""
    sign = v[b + 3]
    change = Decimal(v[b + 4])
    pct = float(v[b + 9])
    if sign in FALLING_SIGNS and change > 0:
        change, pct = -change, -pct
    return Tick(
        "H0UPCNT0",
        v[b],
        Decimal(v[b + 2]),
        change,
        sign,
        pct,
        int(v[b + 7]),
        int(v[b + 5]),
        Decimal(v[b + 10]),
        Decimal(v[b + 11]),
        Decimal(v[b + 12]),
        _timestamp(day, v[b + 1]),
    )


def _order_book(day: str, v: list[str], b: int) -> OrderBook:
    """The H0STASP0 record starting at ``v[b]``."""
    return OrderBook(
        v[b + _B["MKSC_SHRN_ISCD"]],
        _levels(v, b + _B["ASKP1"], b + _B["ASKP_RSQN1"]),
        _levels(v, b + _B["BIDP1"], b + _B["BIDP_RSQN1"]),
        int(v[b + _B["TOTAL_ASKP_RSQN"]]),
        int(v[b + _B["TOTAL_BIDP_RSQN"]]),
        int(v[b + _B["ACML_VOL"]]),
        v[b + _B["HOUR_CLS_CODE"]],
        _timestamp(day, v[b + _B["BSOP_HOUR"]]),
    )


def _levels(v: list[str], prices: int, quantities: int) -> tuple[tuple[int, int], ...]:
    """The side's levels with a price, best first (KIS sends 0 for a level beyond the day's limit)."""
    levels = []
    for i in range(BOOK_DEPTH):
        price = int(v[prices + i])
        if price > 0:
            levels.append((price, int(v[quantities + i])))
    return tuple(levels)
