"""The simulator's WebSocket side: the realtime rules of the real KIS (docs/kis-protocol.md section 3).

* paths: the bare base URL, ``/tryitout`` and ``/tryitout/<TR>`` (the JSON body decides the TR);
* register / release with OPSP0000 (+ AES iv/key) / OPSP0001 / OPSP0002 duplicates /
  OPSP0003 unknown release / OPSP0008 past ``max_subscriptions`` / OPSP8996 (rt_cd 9, header
  ``(null)``, as recorded) when another live session holds the app key / OPSP0011 unknown
  approval key / OPSP899x-999x bad requests
  (``rt_cd`` 9 for the JSON PARSING ERROR family, as a recorded real session answers, else 1);
* only TRs the simulator publishes are acknowledged (:data:`PUBLISHED_TRS`); any other gets
  OPSP8991, so a client never waits on a silent feed;
* PINGPONG every ``pingpong_interval``: answered by a pong frame or by echoing the text, else the
  session is dropped;
* data frames batched: all records of one TR and key within a publish interval share a frame;
* H0STASP0 order books: one record per subscribed symbol that traded in the interval, and a
  refresh of every subscribed book each ``book_refresh`` (books move between trades too).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from kstock.market.calendar import KST
from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.kis_sim.market import Market, Security, Trade
from kstock_local.kis_sim.orderbook import build_book
from kstock_local.kis_sim.records import book_record, frame, index_record, quote_of, trade_record
from kstock_local.kis_sim.state import SimState

log = logging.getLogger("kstock_local.kis_sim.ws")


@dataclass(frozen=True)
class _Request:
    """A registration request whose frame has a header, a body and an input with a tr_key."""

    header: dict[str, Any]
    tr_id: str
    tr_key: str
    tr_type: str


def _parse_request(data: dict[str, Any], header: object) -> _Request | str:
    """The request, or the error frame KIS answers a malformed one with."""
    if not isinstance(header, dict):
        return _error("OPSP9998", "JSON PARSING ERROR : header not found")
    body = data.get("body")
    if not isinstance(body, dict):
        return _error("OPSP9997", "JSON PARSING ERROR : body not found")
    inp = body.get("input")
    if not isinstance(inp, dict):
        return _error("OPSP9996", "JSON PARSING ERROR : input not found")
    tr_id, tr_key = str(inp.get("tr_id") or ""), str(inp.get("tr_key") or "")
    if not tr_key:
        return _error("OPSP9995", "JSON PARSING ERROR : tr_key not found", tr_id)
    return _Request(header, tr_id, tr_key, str(header.get("tr_type") or ""))


TRADE_TRS = {"H0STCNT0", "H0EWCNT0", "H0UPCNT0"}
BOOK_TR = "H0STASP0"
# The TRs a registration is acknowledged for: exactly those the simulator then publishes.
PUBLISHED_TRS = TRADE_TRS | {BOOK_TR}
_ALPHABET = string.ascii_letters + string.digits


@dataclass(eq=False)
class Session:
    ws: web.WebSocketResponse
    request: web.Request
    app_key: str | None = None
    subscriptions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # -> (key, iv)
    awaiting_pong: bool = False
    closed: bool = False


def _control(
    tr_id: str,
    tr_key: str,
    rt_cd: str,
    msg_cd: str,
    msg1: str,
    *,
    encrypt: str = "N",
    output: dict[str, str] | None = None,
) -> str:
    body: dict[str, object] = {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}
    if output is not None:
        body["output"] = output
    return json.dumps(
        {"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": encrypt}, "body": body}, separators=(",", ":")
    )


def _error(msg_cd: str, msg1: str, tr_id: str = "", tr_key: str = "") -> str:
    """A refusal; KIS answers its JSON PARSING ERROR family with rt_cd 9 (a recorded real session)."""
    rt_cd = "9" if msg1.startswith("JSON PARSING ERROR") else "1"
    return _control(tr_id, tr_key, rt_cd, msg_cd, msg1)


def _appkey_in_use() -> str:
    """A registration on a second session of an app key, as a recorded real answer has it: rt_cd 9 and a
    header naming no TR (``(null)``, no key), whatever the request named (docs/kis-protocol.md 3.2)."""
    return _control("(null)", "", "9", "OPSP8996", "ALREADY IN USE appkey")


class WsServer:
    def __init__(self, config: SimulatorConfig, market: Market, state: SimState) -> None:
        self.config, self.market, self.state = config, market, state
        self.sessions: set[Session] = set()
        self.holders: dict[str, Session] = {}  # app key -> its live session
        self._book_totals: dict[str, tuple[int, int]] = {}  # symbol -> its last published book's totals

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.handler)
        app.router.add_get("/tryitout", self.handler)
        app.router.add_get("/tryitout/{tr_id}", self.handler)
        return app

    # -- sessions ------------------------------------------------------------------------------

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)  # autoping off: see client pongs
        await ws.prepare(request)
        session = Session(ws, request)
        self.sessions.add(session)
        self.state.stats.sessions_opened += 1
        pinger = asyncio.create_task(self._pingpong(session))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(session, msg.data)
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    session.awaiting_pong = False
                    self.state.stats.pongs_frame += 1
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            pinger.cancel()
            self._forget(session)
        return ws

    def _forget(self, session: Session) -> None:
        session.closed = True
        self.sessions.discard(session)
        if session.app_key and self.holders.get(session.app_key) is session:
            del self.holders[session.app_key]

    async def _pingpong(self, session: Session) -> None:
        """A PINGPONG every ``pingpong_interval``; one unanswered after ``pong_timeout`` (at most an
        interval) drops the session. The wait for the answer runs inside the interval: added to it,
        it made the PINGPONG come every 60 s instead of the documented 30 s."""
        interval = self.config.pingpong_interval
        timeout = min(interval, self.config.pong_timeout if self.config.pong_timeout is not None else interval)
        try:
            await asyncio.sleep(interval)
            while not session.closed:
                stamp = datetime.now(KST).strftime("%Y%m%d%H%M%S")
                session.awaiting_pong = True
                await session.ws.send_str(
                    json.dumps({"header": {"tr_id": "PINGPONG", "datetime": stamp}}, separators=(",", ":"))
                )
                await asyncio.sleep(timeout)
                if session.awaiting_pong and not session.closed:
                    log.info("KIS sim: PINGPONG unanswered, dropping the session")
                    self.state.stats.sessions_dropped_pingpong += 1
                    await session.ws.close()
                    return
                await asyncio.sleep(interval - timeout)
        except (ConnectionError, RuntimeError):
            return

    async def drop_all(self) -> int:
        """Cut every socket without a closing handshake (a network drop, as clients see it)."""
        sessions = list(self.sessions)
        for session in sessions:
            self._forget(session)
            transport = session.request.transport
            if transport is not None:
                transport.abort()
        return len(sessions)

    async def send_raw(self, text: str) -> int:
        """Send any text to every session (tests: garbage, drifted or encrypted frames)."""
        count = 0
        for session in list(self.sessions):
            if not session.closed:
                await self._send(session, text)
                count += 1
        return count

    async def _send(self, session: Session, text: str) -> bool:
        try:
            await session.ws.send_str(text)
            return True
        except (ConnectionError, RuntimeError):
            self._forget(session)
            return False

    # -- requests ------------------------------------------------------------------------------

    async def _on_text(self, session: Session, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            await self._send(session, _error("OPSP9999", "JSON PARSING ERROR : invalid json format"))
            return
        header = data.get("header") if isinstance(data, dict) else None
        if isinstance(header, dict) and header.get("tr_id") == "PINGPONG":
            session.awaiting_pong = False  # the echo answer (pykis, official multiprocessing sample)
            self.state.stats.pongs_echo += 1
            return
        await self._send(session, self._handle(session, data, header))

    def _handle(self, session: Session, data: dict[str, Any], header: object) -> str:
        """The answer to one registration request, checked in KIS's order: the frame's shape, the
        approval key and the session's app key, the TR, then the registration itself."""
        request = _parse_request(data, header)
        if isinstance(request, str):
            return request
        refused = self._claim(session, request) or self._check_tr(request)
        if refused is not None:
            return refused
        return self._register(session, request)

    def _claim(self, session: Session, request: _Request) -> str | None:
        """The approval key names an app key this session may use (one session per app key)."""
        tr_id, tr_key, header = request.tr_id, request.tr_key, request.header
        app_key = self.state.approvals.get(str(header.get("approval_key") or ""))
        if app_key is None:
            return _error("OPSP0011", "invalid approval : NOT FOUND", tr_id, tr_key)
        if header.get("custtype", "P") not in ("P", "B"):
            return _error("OPSP8998", "JSON PARSING ERROR : invalid custtype", tr_id, tr_key)
        if request.tr_type not in ("1", "2"):
            return _error("OPSP8997", "JSON PARSING ERROR : invalid tr_type", tr_id, tr_key)
        holder = self.holders.get(app_key)
        if holder is not None and holder is not session and not holder.closed:
            return _appkey_in_use()
        if session.app_key is None:
            session.app_key = app_key
            self.holders[app_key] = session
        elif session.app_key != app_key:
            return _appkey_in_use()
        return None

    def _check_tr(self, request: _Request) -> str | None:
        tr_id, tr_key = request.tr_id, request.tr_key
        if tr_id not in PUBLISHED_TRS:
            return _error("OPSP8991", "SUBSCRIBE ERROR : invalid tr_id", tr_id, tr_key)
        if not self._known_key(tr_id, tr_key):
            return _error("OPSP8992", "SUBSCRIBE ERROR : invalid tr_key", tr_id, tr_key)
        return None

    def _register(self, session: Session, request: _Request) -> str:
        tr_id, tr_key = request.tr_id, request.tr_key
        slot = (tr_id, tr_key)
        encrypt = "N"  # quote TRs are plain; only execution notices (not simulated) are encrypted
        if request.tr_type == "2":
            if session.subscriptions.pop(slot, None) is None:
                return _error("OPSP0003", "UNSUBSCRIBE ERROR(not found!)", tr_id, tr_key)
            return _control(tr_id, tr_key, "0", "OPSP0001", "UNSUBSCRIBE SUCCESS", encrypt=encrypt)
        if slot in session.subscriptions:
            return _control(tr_id, tr_key, "1", "OPSP0002", "ALREADY IN SUBSCRIBE", encrypt=encrypt)
        if len(session.subscriptions) >= self.config.max_subscriptions:
            return _error("OPSP0008", "MAX SUBSCRIBE OVER", tr_id, tr_key)
        key = "".join(secrets.choice(_ALPHABET) for _ in range(32))
        iv = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        session.subscriptions[slot] = (key, iv)
        return _control(
            tr_id, tr_key, "0", "OPSP0000", "SUBSCRIBE SUCCESS", encrypt=encrypt, output={"iv": iv, "key": key}
        )

    def _known_key(self, tr_id: str, tr_key: str) -> bool:
        if tr_id == "H0UPCNT0":
            return tr_key in self.market.indices
        if tr_id == "H0EWCNT0":
            return tr_key in self.market.elws
        return tr_key in self.market.stocks

    # -- publishing ----------------------------------------------------------------------------

    def wanted(self) -> set[tuple[str, str]]:
        return {slot for s in self.sessions for slot in s.subscriptions}

    async def publish_trades(self, trades: list[Trade]) -> None:
        if not trades or not self.sessions:
            return
        wanted = self.wanted()
        day = self.market.session_day.strftime("%Y%m%d")
        extra = self.config.extra_fields
        grouped: dict[tuple[str, str], list[str]] = {}
        for trade in trades:
            slot = (trade.tr_id, trade.security.symbol)
            if slot in wanted:  # records are encoded once, shared by every subscriber
                grouped.setdefault(slot, []).append(trade_record(trade, day, extra))
        await self._fan_out(grouped)

    async def publish_books(self, trades: list[Trade], refresh: bool = False) -> None:
        """H0STASP0: the book of every subscribed symbol that traded in ``trades``, as it stands after
        its last trade; with ``refresh``, every subscribed book, its quantities moved (orders come and
        go between trades)."""
        wanted = {key for tr, key in self.wanted() if tr == BOOK_TR}
        if not wanted:
            return
        changed = wanted & {t.security.symbol for t in trades}
        if refresh:
            for symbol in wanted - changed:
                self.market.stocks[symbol].book_shift += 1
            changed = wanted
        clock = self.market.now().strftime("%H%M%S")
        grouped = {(BOOK_TR, symbol): [self._book_record(self.market.stocks[symbol], clock)] for symbol in changed}
        await self._fan_out(grouped)

    def _book_record(self, sec: Security, clock: str) -> str:
        book = build_book(quote_of(sec))
        previous = self._book_totals.get(sec.symbol)
        self._book_totals[sec.symbol] = (book.total_ask, book.total_bid)
        return book_record(sec, clock, book, previous, self.config.extra_fields)

    async def publish_indices(self, tick_volume: int) -> None:
        wanted = {key for tr, key in self.wanted() if tr == "H0UPCNT0"}
        if not wanted:
            return
        clock = self.market.now().strftime("%H%M%S")
        grouped = {
            ("H0UPCNT0", index.code): [index_record(index, clock, tick_volume, self.config.extra_fields)]
            for index in self.market.update_indices()
            if index.code in wanted
        }
        await self._fan_out(grouped)

    async def _fan_out(self, grouped: dict[tuple[str, str], list[str]]) -> None:
        stats = self.state.stats
        frames = {
            slot: [frame(slot[0], records[i : i + 999]) for i in range(0, len(records), 999)]
            for slot, records in grouped.items()
        }
        for session in list(self.sessions):
            for slot in session.subscriptions.keys() & frames.keys():
                for text in frames[slot]:
                    if not await self._send(session, text):
                        break
                records = len(grouped[slot])
                stats.frames_sent += len(frames[slot])
                stats.records_sent += records
                stats.by_tr[slot[0]] = stats.by_tr.get(slot[0], 0) + records
