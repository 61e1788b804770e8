"""What a WebSocket connection may do: open (authenticated), send actions, close.

The handlers in ``functions/chalicelib/handlers/websocket.py`` only translate API Gateway events to these calls.
Replies are returned, not sent, so the handler decides how to deliver them.

Client actions (docs/architecture.md, "The WebSocket API")::

    {"action":"subscribe","symbols":["005930","0015N0"],"mode":"batch","windowMs":250}
    {"action":"subscribe","symbols":["005930"],"channels":["trade","orderbook"]}
    {"action":"subscribe","topics":["themes"]}
    {"action":"unsubscribe","symbols":["005930"]}
    {"action":"ping"}

``channels`` (issue 18): ``trade`` (the default) and ``orderbook`` (the symbol's ten-level book, stocks,
ETFs and ETNs; each book is its own demand and its own KIS slot). An unsubscribe without channels
leaves both.

``mode`` (``tick`` every tick as its own message, the default; ``batch`` at most one
``{"type":"ticks","data":[...]}`` per window) belongs to the connection and is chosen at
subscribe time. Each is answered with an ack (``subscribed`` / ``unsubscribed`` / ``pong``) or
``{"type":"error","code":...,"message":...}``; bad input never raises.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.exceptions import RedisError

from kstock.auth import tokens
from kstock.config import get_settings
from kstock.errors import TooManyRequests
from kstock.logs import get_logger
from kstock.market.codes import InstrumentKind, InvalidCode, classify
from kstock.realtime import demand, listing, registry
from kstock.realtime.channels import CHANNELS, ORDERBOOK, TRADE, Channel

log = get_logger("kstock.realtime.session")

ERROR_INVALID = "INVALID_REQUEST"
ERROR_MISSING = "MISSING_FIELD"
ERROR_UNAVAILABLE = "STREAM_UNAVAILABLE"
ERROR_INTERNAL = "INTERNAL_ERROR"
ERROR_LIMIT = "TOO_MANY_REQUESTS"
CONNECTION_RETRY_AFTER = 5  # seconds: a connection limit frees up when the user closes one
TOPICS = ("themes", "signals")  # signals: live buy signals of watchlist symbols (issue 15)
ACTIONS = ("subscribe", "unsubscribe", "ping")


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.reply = error(code, message)


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    action: Literal["subscribe", "unsubscribe"]
    symbols: list[str] = Field(default_factory=list, max_length=1000)
    topics: list[str] = Field(default_factory=list, max_length=10)
    mode: Literal["tick", "batch"] | None = None
    window_ms: int | None = Field(None, alias="windowMs", ge=10, le=10_000)
    channels: list[Channel] | None = Field(None, max_length=len(CHANNELS))


def open_connection(connection_id: str, token: str | None, *, domain_name: str, stage: str) -> int:
    """Verify the token and record the connection; raises Unauthorized for a bad token and
    ``TOO_MANY_REQUESTS`` past the user's connection limit (``WS_MAX_CONNECTIONS_PER_USER``).

    Registered first, counted after: two connects racing for the last place may both be refused,
    but the limit is never exceeded.
    """
    claims = tokens.verify(token)
    registry.register(connection_id, user_id=claims.user_id, domain_name=domain_name, stage=stage)
    limit = get_settings().ws_max_connections_per_user
    if len(registry.user_connections(claims.user_id)) > limit:
        registry.remove(connection_id)
        raise TooManyRequests(
            f"at most {limit} open WebSocket connections per user: close one first", retry_after=CONNECTION_RETRY_AFTER
        )
    return claims.user_id


def handle_message(
    connection_id: str, body: str | None, *, domain_name: str | None = None, stage: str | None = None
) -> list[dict[str, Any]]:
    """The replies to one client message. Bad input is answered, never raised."""
    try:
        message = json.loads(body or "")
    except json.JSONDecodeError:
        return [error(ERROR_INVALID, "messages must be JSON objects")]
    if not isinstance(message, dict):
        return [error(ERROR_INVALID, "messages must be JSON objects")]
    action = message.get("action")
    if action == "ping":
        return [{"type": "pong"}]
    if action not in ACTIONS:
        return [error(ERROR_INVALID, f"unknown action {action!r}; known: {', '.join(ACTIONS)}")]
    try:
        request = _parse(message)
        if request.action == "subscribe":
            return [_subscribe(connection_id, request, domain_name, stage)]
        return [_unsubscribe(connection_id, request, domain_name, stage)]
    except _Refused as refused:
        return [refused.reply]
    except registry.ConnectionGone:  # removed meanwhile (the fan-out's 410): nothing was recorded
        return [error(ERROR_INVALID, "this connection is closed; open a new one")]
    except Exception:  # a store outage is the client's answer too, never a failed invocation
        log.exception("WebSocket action failed", extra={"connection_id": connection_id, "action": action})
        return [error(ERROR_INTERNAL, "the request could not be processed; try again")]


def close_connection(connection_id: str) -> registry.Removed:
    """Forget a connection (``$disconnect``, or the fan-out after a 410) and release its demand once."""
    removed = registry.remove(connection_id)
    info = removed.info
    demand.announce(
        "disconnect",
        connection_id,
        symbols=removed.symbols,
        topics=removed.topics,
        removed=removed.symbols,
        domain_name=info.domain_name if info else None,
        stage=info.stage if info else None,
        user_id=info.user_id if info else None,
        books=removed.books,
        removed_books=removed.books,
    )
    return removed


def close_user_connections(user_id: int) -> int:
    """Close every open WebSocket of a user through ``@connections`` DELETE (a logout revokes the
    token the sockets were opened with: they must not keep streaming). Each close fires the
    gateway's ``$disconnect``, which releases the demand. Returns how many were closed."""
    from kstock.aws import connections_client  # boto3 only when there is something to close

    closed = 0
    for connection_id, info in registry.get_many(registry.user_connections(user_id)).items():
        if not info.domain_name or not info.stage:
            continue
        client = connections_client(info.domain_name, info.stage)
        try:
            client.delete_connection(ConnectionId=connection_id)
            closed += 1
        except client.exceptions.GoneException:  # gone already: its own $disconnect cleans up
            close_connection(connection_id)
    return closed


# -- actions ---------------------------------------------------------------------------------------


def _parse(message: dict[str, Any]) -> SubscriptionRequest:
    try:
        request = SubscriptionRequest.model_validate(message)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise _Refused(ERROR_INVALID, f"{where}: {first['msg']}") from None
    if not request.symbols and not request.topics:
        raise _Refused(ERROR_MISSING, f'{request.action} needs symbols (e.g. ["005930"]) or topics (["themes"])')
    invalid = []
    canonical = []
    for raw in request.symbols:
        try:
            canonical.append(classify(raw).code)
        except InvalidCode as exc:
            invalid.append(f"{raw} ({exc.reason})")
    if invalid:
        raise _Refused(ERROR_INVALID, "invalid symbols: " + "; ".join(invalid))
    unknown = [t for t in request.topics if t not in TOPICS]
    if unknown:
        raise _Refused(ERROR_INVALID, f"unknown topics: {', '.join(map(str, unknown))}; known: {', '.join(TOPICS)}")
    request.symbols = list(dict.fromkeys(canonical))
    request.topics = list(dict.fromkeys(request.topics))
    if request.channels is not None:
        request.channels = list(dict.fromkeys(request.channels))
    if request.channels is not None and ORDERBOOK in request.channels:
        elw = [code for code in request.symbols if classify(code).kind is InstrumentKind.ELW]
        if elw:
            raise _Refused(ERROR_INVALID, "order books are for stocks, ETFs and ETNs, not ELWs: " + ", ".join(elw))
    return request


def _split(request: SubscriptionRequest, default: tuple[Channel, ...]) -> tuple[list[str], list[str]]:
    """(symbols of the trade channel, symbols of the orderbook channel) of a request."""
    channels = request.channels or default
    return (request.symbols if TRADE in channels else [], request.symbols if ORDERBOOK in channels else [])


def _ack(kind: str, request: SubscriptionRequest) -> dict[str, Any]:
    reply: dict[str, Any] = {"type": kind, "symbols": request.symbols, "topics": request.topics}
    if request.channels is not None:
        reply["channels"] = request.channels
    return reply


def _user_symbols_check(connection_id: str, wanted: list[str]) -> int | None:
    """The connection's user, refusing symbols past the user's limit across all connections."""
    info = registry.get(connection_id)
    if info is None:
        raise registry.ConnectionGone(connection_id)
    if info.user_id is None or not wanted:
        return info.user_id
    limit = get_settings().ws_max_symbols_per_user
    held = registry.user_symbols(info.user_id)
    if len(held | set(wanted)) > limit:
        raise _Refused(
            ERROR_LIMIT,
            f"at most {limit} symbols per user across connections: you have {len(held)} "
            f"and asked for {len(set(wanted) - held)} more",
        )
    return info.user_id


def _subscribe(
    connection_id: str, request: SubscriptionRequest, domain_name: str | None, stage: str | None
) -> dict[str, Any]:
    limit = get_settings().ws_max_symbols
    held = registry.holdings(connection_id)
    symbols, topics = held.symbols, held.topics
    before = set(symbols) | set(held.books)  # a symbol counts once, whatever its channels
    total = before | set(request.symbols)
    if len(total) > limit:
        new = len(total) - len(before)
        raise _Refused(
            ERROR_INVALID,
            f"at most {limit} symbols per connection: this one has {len(before)} and asked for {new} more",
        )
    trades, books = _split(request, (TRADE,))
    unlisted = listing.unknown(request.symbols)
    if unlisted:  # a well-formed code of nothing listed must not count as demand for a KIS slot
        raise _Refused(ERROR_INVALID, "unknown symbols (not listed): " + ", ".join(unlisted))
    user_id = _user_symbols_check(connection_id, request.symbols)
    window = request.window_ms
    if request.mode == "batch" and window is None:
        window = get_settings().ws_batch_window_ms
    if request.mode is not None:
        registry.set_mode(connection_id, request.mode, window if request.mode == "batch" else None)
    added = registry.add_symbols(connection_id, trades, symbols)
    added_books = registry.add_books(connection_id, books, held.books)
    if (
        user_id is not None
        and (added or added_books)
        and len(registry.user_symbols(user_id)) > get_settings().ws_max_symbols_per_user
    ):
        # another connection of the user subscribed meanwhile: give back what this one took
        registry.remove_symbols(connection_id, added)
        registry.remove_books(connection_id, added_books)
        _user_symbols_check(connection_id, request.symbols)
        raise _Refused(ERROR_LIMIT, "too many symbols for this user right now; unsubscribe some first")
    added_topics = registry.add_topics(connection_id, request.topics, topics)
    try:
        demand.announce(
            "subscribe",
            connection_id,
            symbols=trades,
            topics=request.topics,
            added=added,
            domain_name=domain_name,
            stage=stage,
            mode=request.mode,
            window_ms=window if request.mode == "batch" else None,
            user_id=user_id,
            books=books,
            added_books=added_books,
        )
    except RedisError:
        # nobody would send these prices: undo, so a retry counts them (once) when Redis is back
        registry.remove_symbols(connection_id, added)
        registry.remove_books(connection_id, added_books)
        registry.remove_topics(connection_id, added_topics)
        raise _Refused(ERROR_UNAVAILABLE, "live prices are unavailable right now; try again shortly") from None
    reply = _ack("subscribed", request)
    if request.mode is not None:
        reply["mode"] = request.mode
        if request.mode == "batch":
            reply["windowMs"] = window
    return reply


def _unsubscribe(
    connection_id: str, request: SubscriptionRequest, domain_name: str | None, stage: str | None
) -> dict[str, Any]:
    trades, books = _split(request, CHANNELS)
    if books and request.channels is None:  # both channels by default: only the books it holds (one Query)
        held = set(registry.holdings(connection_id).books)
        books = [symbol for symbol in books if symbol in held]
    removed = registry.remove_symbols(connection_id, trades)
    removed_books = registry.remove_books(connection_id, books)
    removed_topics = registry.remove_topics(connection_id, request.topics)
    owner = registry.get(connection_id) if removed or removed_books else None  # whose per-user demand falls
    try:
        demand.announce(
            "unsubscribe",
            connection_id,
            symbols=trades,
            topics=request.topics,
            removed=removed,
            domain_name=domain_name,
            stage=stage,
            user_id=owner.user_id if owner else None,
            books=books,
            removed_books=removed_books,
        )
    except RedisError:
        registry.add_symbols(connection_id, removed)
        registry.add_books(connection_id, removed_books)
        registry.add_topics(connection_id, removed_topics)
        raise _Refused(ERROR_UNAVAILABLE, "live prices are unavailable right now; try again shortly") from None
    return _ack("unsubscribed", request)
