"""The WebSocket connection registry in DynamoDB (PynamoDB).

One table, three item kinds, keyed so every question is a Query on a partition, never a Scan:

* ``pk=CONN#{id}, sk=META``           the connection (user, endpoint, delivery mode, batch window)
* ``pk=CONN#{id}, sk=SYM#{symbol}``   what a connection wants (listed when it goes away),
  ``sk=TOPIC#{topic}`` likewise for topics (``themes``), ``sk=BOOK#{symbol}`` for order books
* ``pk=SYM#{symbol}, sk=CONN#{id}``   who wants a symbol (the fan-out's question),
  ``pk=TOPIC#{topic}, sk=CONN#{id}`` who wants a topic, ``pk=BOOK#{symbol}`` who wants its book
* ``pk=USER#{id}, sk=CONN#{id}``      a user's connections (the per-user limits' question)

Every item carries ``expiresAt`` (DynamoDB TTL) so rows of connections that vanished without a
``$disconnect`` expire on their own (readers skip expired rows DynamoDB has not deleted yet).

Idempotent under retries: a subscription counts as *added* only when its ``CONN#`` item did not
exist (a conditional put), and as *removed* only when a conditional delete really deleted it, so
a retried or duplicated request (or ``$disconnect`` racing the fan-out's 410 clean-up) reports
each change once and the demand counts built on these answers never double.

Cannot leak (issue 17, finding 4): a subscription's owner item and its mirror are written only in
a transaction whose condition is that the connection's ``META`` item exists (49 names a
transaction), so nothing is subscribed (or counted, or left for the fan-out) for a connection
already removed. Only the remover that deleted ``META`` cleans the connection's
items up, after the delete (no subscription can be added any more), and it reports exactly the
items its conditional deletes removed; a second remover touches nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from kstock import aws
from kstock.config import get_settings
from kstock.realtime.channels import BOOK_PREFIX, book_demand, book_symbol

_models: dict[tuple[str, str | None, str], type[_ConnectionItem]] = {}
_connections: dict[tuple[str | None, str], Connection] = {}

SYMBOL = "SYM#"
TOPIC = "TOPIC#"
CONN = "CONN#"
USER = "USER#"
BOOK = BOOK_PREFIX  # an order-book subscription: demand of its own (kstock.realtime.channels)
META = "META"
MODES = ("tick", "batch")


class _ConnectionItem(Model):
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    user_id = NumberAttribute(null=True, attr_name="userId")
    domain_name = UnicodeAttribute(null=True, attr_name="domainName")
    stage = UnicodeAttribute(null=True)
    mode = UnicodeAttribute(null=True)
    window_ms = NumberAttribute(null=True, attr_name="windowMs")
    connected_at = NumberAttribute(null=True, attr_name="connectedAt")
    expires_at = TTLAttribute(attr_name="expiresAt")


def _model() -> type[_ConnectionItem]:
    """The item class bound to the configured table and endpoint (PynamoDB binds them per class)."""
    settings = get_settings()
    key = (settings.connections_table, settings.aws_endpoint_url, settings.aws_region)
    if key not in _models:
        # credentials from the one AWS module: PynamoDB would otherwise look in the shell and ~/.aws
        meta = type("Meta", (), {"table_name": key[0], "host": key[1], "region": key[2], **aws.credentials(key[1])})
        _models[key] = type("ConnectionItem", (_ConnectionItem,), {"Meta": meta})
    return _models[key]


def _expiry() -> timedelta:
    return timedelta(seconds=get_settings().ws_connection_ttl_seconds)


def _expired(item: _ConnectionItem) -> bool:
    expires = item.expires_at
    return expires is not None and expires.timestamp() < time.time()


def _conditional_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class ConnectionInfo:
    connection_id: str
    user_id: int | None
    domain_name: str | None
    stage: str | None
    mode: str
    window_ms: int | None = None


@dataclass
class Removed:
    """What a removal really deleted (empty when someone else got there first)."""

    symbols: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    info: ConnectionInfo | None = None
    books: list[str] = field(default_factory=list)  # symbols whose order book it subscribed to


@dataclass(frozen=True)
class Held:
    """What one connection subscribes to."""

    symbols: list[str]
    topics: list[str]
    books: list[str]


def _info(item: _ConnectionItem, connection_id: str) -> ConnectionInfo:
    return ConnectionInfo(
        connection_id,
        int(item.user_id) if item.user_id is not None else None,
        item.domain_name,
        item.stage,
        item.mode or "tick",
        int(item.window_ms) if item.window_ms is not None else None,
    )


# -- connections --------------------------------------------------------------------------------


class ConnectionGone(Exception):
    """The connection was removed (``$disconnect``, the fan-out after a 410): nothing may be added."""


def register(connection_id: str, *, user_id: int | None, domain_name: str, stage: str) -> None:
    model = _model()
    expiry = _expiry()
    # one BatchWriteItem for the META and the user's mirror: $connect is on every client's path, and a
    # request less per connect is a quarter of the registry's share of it
    with model.batch_write() as batch:
        batch.save(
            model(
                f"{CONN}{connection_id}",
                META,
                user_id=user_id,
                domain_name=domain_name,
                stage=stage,
                mode="tick",
                connected_at=int(time.time() * 1000),
                expires_at=expiry,
            )
        )
        if user_id is not None:
            batch.save(model(f"{USER}{user_id}", f"{CONN}{connection_id}", expires_at=expiry))


def user_connections(user_id: int) -> list[str]:
    """The user's live connections (a consistent Query of its partition; a mirror left by a
    connection whose META is gone, e.g. a remover that crashed half-way, is dropped on the way)."""
    model = _model()
    listed = [
        item.sk.removeprefix(CONN)
        for item in model.query(f"{USER}{user_id}", consistent_read=True)
        if not _expired(item)
    ]
    live = get_many(listed, consistent=True) if listed else {}  # a connection registered a moment ago counts
    for stale in (cid for cid in listed if cid not in live):
        model(f"{USER}{user_id}", f"{CONN}{stale}").delete()
    return [cid for cid in listed if cid in live]


def user_symbols(user_id: int) -> set[str]:
    """The distinct symbols a user subscribes to (trades or book) across all their connections."""
    found: set[str] = set()
    for connection_id in user_connections(user_id):
        held = holdings(connection_id)
        found.update(held.symbols, held.books)
    return found


def users_of(symbol: str) -> set[int]:
    """The distinct users subscribed to ``symbol`` (what KIS slots should be allocated by)."""
    infos = get_many(subscribers_of(symbol))
    return {info.user_id for info in infos.values() if info.user_id is not None}


def get(connection_id: str) -> ConnectionInfo | None:
    model = _model()
    try:
        item = model.get(f"{CONN}{connection_id}", META, consistent_read=True)
    except model.DoesNotExist:
        return None
    return None if _expired(item) else _info(item, connection_id)


def get_many(connection_ids: Iterable[str], *, consistent: bool = False) -> dict[str, ConnectionInfo]:
    """The connections that still exist among ``connection_ids`` (BatchGetItem, 100 keys a call)."""
    model = _model()
    keys = [(f"{CONN}{cid}", META) for cid in dict.fromkeys(connection_ids)]
    found: dict[str, ConnectionInfo] = {}
    for item in model.batch_get(keys, consistent_read=consistent):
        if not _expired(item):
            cid = item.pk.removeprefix(CONN)
            found[cid] = _info(item, cid)
    return found


def set_mode(connection_id: str, mode: str, window_ms: int | None) -> None:
    """Record the delivery mode chosen at subscribe time (the fan-out reads it on a rebuild)."""
    if mode not in MODES:
        raise ValueError(f"unknown delivery mode {mode!r}")
    model = _model()
    item = model(f"{CONN}{connection_id}", META)
    try:  # an update would create a removed connection's META again: only a live one
        item.update(
            actions=[
                model.mode.set(mode),
                model.window_ms.set(window_ms) if window_ms is not None else model.window_ms.remove(),
                model.expires_at.set(datetime.now(UTC) + _expiry()),  # the attribute's typing takes a moment
            ],
            condition=model.pk.exists(),
        )
    except UpdateError as exc:
        if _conditional_failure(exc):
            raise ConnectionGone(connection_id) from None
        raise


# -- subscriptions ----------------------------------------------------------------------------------


def holdings(connection_id: str) -> Held:
    """The symbols, topics and books of a connection, in one Query."""
    model = _model()
    found: dict[str, list[str]] = {SYMBOL: [], TOPIC: [], BOOK: []}
    for item in model.query(f"{CONN}{connection_id}", consistent_read=True):
        prefix = next((p for p in found if item.sk.startswith(p)), None)
        if prefix is not None and not _expired(item):
            found[prefix].append(item.sk.removeprefix(prefix))
    return Held(found[SYMBOL], found[TOPIC], found[BOOK])


def subscriptions(connection_id: str) -> tuple[list[str], list[str]]:
    """The symbols and the topics of a connection, in one Query."""
    held = holdings(connection_id)
    return held.symbols, held.topics


def _members(partition: str) -> list[str]:
    return [item.sk.removeprefix(CONN) for item in _model().query(partition) if not _expired(item)]


def subscribers_of(name: str) -> list[str]:
    """Who wants a demand name: a symbol's trades, or a book (``BOOK#{symbol}``, :func:`book_demand`)."""
    return _members(name if book_symbol(name) is not None else f"{SYMBOL}{name}")


def topic_subscribers(topic: str) -> list[str]:
    return _members(f"{TOPIC}{topic}")


def _connection() -> Connection:
    """The DynamoDB connection transactions go through (PynamoDB's public ``Connection``, one per
    endpoint and region, with the same credentials as the item class)."""
    settings = get_settings()
    key = (settings.aws_endpoint_url, settings.aws_region)
    if key not in _connections:
        credentials = aws.credentials(key[0])  # empty against AWS: the default chain (the role)
        _connections[key] = Connection(
            region=key[1],
            host=key[0],
            aws_access_key_id=credentials.get("aws_access_key_id"),
            aws_secret_access_key=credentials.get("aws_secret_access_key"),
        )
    return _connections[key]


# DynamoDB takes at most 100 actions a transaction: the META check and two items (owner, mirror) per name
NAMES_PER_TRANSACTION = 49
TRANSACTION_CONFLICT_RETRIES = 5  # another transaction on the same items (the META check): try again


def _cancellations(exc: TransactWriteError) -> list[str | None]:
    return [getattr(reason, "code", None) if reason else None for reason in exc.cancellation_reasons or []]


def _add_chunk(model: type[_ConnectionItem], connection_id: str, prefix: str, names: list[str]) -> list[str]:
    """Write the subscription items of ``names`` (at most :data:`NAMES_PER_TRANSACTION`) in one
    transaction; return the names that were new.

    The transaction holds a ``ConditionCheck`` that the connection's ``META`` item exists (else
    :class:`ConnectionGone`), and per name the owner item ``CONN#{id}/{prefix}{name}`` (only if absent:
    a retry finds it and counts nothing) with its mirror ``{prefix}{name}/CONN#{id}``. Both or neither:
    a ``$disconnect`` (which deletes ``META`` first, then lists the owner items) can never leave a mirror
    of a removed connection behind.
    """
    expiry = _expiry()
    pending = list(names)
    conflicts = 0
    while pending:
        try:
            with TransactWrite(connection=_connection()) as transaction:
                transaction.condition_check(model, f"{CONN}{connection_id}", META, condition=model.pk.exists())
                for name in pending:  # puts keep their order: the owner of pending[i] is action 1 + 2i
                    owner = model(f"{CONN}{connection_id}", f"{prefix}{name}", expires_at=expiry)
                    transaction.save(owner, condition=model.pk.does_not_exist())
                    transaction.save(model(f"{prefix}{name}", f"{CONN}{connection_id}", expires_at=expiry))
        except TransactWriteError as exc:
            reasons = _cancellations(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise ConnectionGone(connection_id) from None
            held = {name for i, name in enumerate(pending) if _reason(reasons, 1 + 2 * i) == "ConditionalCheckFailed"}
            if held:  # subscribed already (a retried request): write the others, count only them
                pending = [name for name in pending if name not in held]
                continue
            conflicts += 1
            if "TransactionConflict" in reasons and conflicts <= TRANSACTION_CONFLICT_RETRIES:
                time.sleep(0.05 * conflicts)  # back off: the other transaction finishes in milliseconds
                continue
            raise
        return pending
    return []


def _reason(reasons: list[str | None], index: int) -> str | None:
    return reasons[index] if index < len(reasons) else None


def _add(connection_id: str, prefix: str, names: Iterable[str], existing: Iterable[str]) -> list[str]:
    """Subscribe to the names not in ``existing``, a transaction per :data:`NAMES_PER_TRANSACTION`."""
    model = _model()
    known = set(existing)
    wanted = [name for name in dict.fromkeys(names) if name not in known]
    added: list[str] = []
    for start in range(0, len(wanted), NAMES_PER_TRANSACTION):
        added += _add_chunk(model, connection_id, prefix, wanted[start : start + NAMES_PER_TRANSACTION])
    return added


def _remove_chunk(model: type[_ConnectionItem], connection_id: str, prefix: str, names: list[str]) -> list[str]:
    """Delete the subscription items of ``names`` in one transaction; return those whose owner item it
    deleted. The owner's delete is conditional (a racing remover reports each once); the mirror goes
    whether or not the owner was there (a crashed earlier try may have left it)."""
    pending, absent = list(names), list[str]()
    while True:
        try:
            with TransactWrite(connection=_connection()) as transaction:
                for name in pending:  # deletes keep their order: the owner of pending[i] is action 2i
                    owner = model(f"{CONN}{connection_id}", f"{prefix}{name}")
                    transaction.delete(owner, condition=model.pk.exists())
                    transaction.delete(model(f"{prefix}{name}", f"{CONN}{connection_id}"))
                for name in absent:
                    transaction.delete(model(f"{prefix}{name}", f"{CONN}{connection_id}"))
        except TransactWriteError as exc:
            reasons = _cancellations(exc)
            gone = {name for i, name in enumerate(pending) if _reason(reasons, 2 * i) == "ConditionalCheckFailed"}
            if not gone:
                raise
            pending = [name for name in pending if name not in gone]
            absent += sorted(gone)
            continue
        return pending


def _remove(connection_id: str, prefix: str, names: Iterable[str]) -> list[str]:
    """Unsubscribe; the names this call really removed (a transaction per :data:`NAMES_PER_TRANSACTION`)."""
    model = _model()
    wanted = list(dict.fromkeys(names))
    removed: list[str] = []
    for start in range(0, len(wanted), NAMES_PER_TRANSACTION):
        removed += _remove_chunk(model, connection_id, prefix, wanted[start : start + NAMES_PER_TRANSACTION])
    return removed


def add_symbols(connection_id: str, symbols: Iterable[str], existing: Iterable[str] = ()) -> list[str]:
    """Subscribe; return the symbols that were not subscribed before (``existing`` skips known ones)."""
    return _add(connection_id, SYMBOL, symbols, existing)


def remove_symbols(connection_id: str, symbols: Iterable[str]) -> list[str]:
    """Unsubscribe; return the symbols this call really removed."""
    return _remove(connection_id, SYMBOL, symbols)


def add_books(connection_id: str, symbols: Iterable[str], existing: Iterable[str] = ()) -> list[str]:
    """Subscribe to the symbols' order books; return those not subscribed before."""
    return _add(connection_id, BOOK, symbols, existing)


def remove_books(connection_id: str, symbols: Iterable[str]) -> list[str]:
    return _remove(connection_id, BOOK, symbols)


def add_topics(connection_id: str, topics: Iterable[str], existing: Iterable[str] = ()) -> list[str]:
    return _add(connection_id, TOPIC, topics, existing)


def remove_topics(connection_id: str, topics: Iterable[str]) -> list[str]:
    return _remove(connection_id, TOPIC, topics)


def remove(connection_id: str) -> Removed:
    """Delete a connection and all its subscriptions; report what this call really deleted.

    Whoever deletes the ``META`` item (a conditional delete) owns the removal: only then, when no
    subscription can be added any more, it lists the connection's items and deletes each one
    conditionally, reporting exactly those it deleted (an unsubscribe racing it reports the
    others). A concurrent second remover (``$disconnect`` racing the fan-out's 410 clean-up)
    touches nothing and reports nothing, so demand is released once, and never left held.
    """
    model = _model()
    try:
        meta = model.get(f"{CONN}{connection_id}", META, consistent_read=True)
    except model.DoesNotExist:
        meta = None
    try:
        model(f"{CONN}{connection_id}", META).delete(condition=model.pk.exists())
    except DeleteError as exc:
        if not _conditional_failure(exc):
            raise
        return Removed()
    if meta is not None and meta.user_id is not None:
        model(f"{USER}{int(meta.user_id)}", f"{CONN}{connection_id}").delete()
    held = holdings(connection_id)
    removed = Removed(_remove(connection_id, SYMBOL, held.symbols), _remove(connection_id, TOPIC, held.topics))
    removed.books = _remove(connection_id, BOOK, held.books)
    removed.info = _info(meta, connection_id) if meta is not None else None
    return removed


# -- bulk loading (benches) ---------------------------------------------------------------------


def bulk_subscribe(wanted: dict[int, list[str]], *, mode: str, window_ms: int | None) -> dict[int, str]:
    """Subscribe the live connection of each user in ``wanted`` to its symbols and set its delivery
    mode, in one Scan and batch writes (25 items a request) instead of Queries and a transaction per
    symbol; returns user -> connection id.

    For loading a registry at scale (``kstock bench fanout``, one connection per user), not for the
    handlers: it has none of the per-item conditions that keep demand counted once, and it counts no
    demand. A user with no live connection is left out. ``META`` items are rewritten whole.
    """
    if mode not in MODES:
        raise ValueError(f"unknown delivery mode {mode!r}")
    model = _model()
    expiry = _expiry()
    users: dict[int, str] = {}
    metas: dict[str, _ConnectionItem] = {}
    for item in model.scan():  # the whole table once: cheaper than a Query and a BatchGet per user
        if _expired(item):
            continue
        if item.pk.startswith(USER) and int(item.pk.removeprefix(USER)) in wanted:
            users[int(item.pk.removeprefix(USER))] = item.sk.removeprefix(CONN)
        elif item.pk.startswith(CONN) and item.sk == META:
            metas[item.pk.removeprefix(CONN)] = item
    found = {user: cid for user, cid in users.items() if cid in metas}
    with model.batch_write() as batch:
        for user, cid in found.items():
            meta = metas[cid]
            meta.mode, meta.window_ms, meta.expires_at = mode, window_ms, expiry
            batch.save(meta)
            for symbol in dict.fromkeys(wanted[user]):
                batch.save(model(f"{CONN}{cid}", f"{SYMBOL}{symbol}", expires_at=expiry))
                batch.save(model(f"{SYMBOL}{symbol}", f"{CONN}{cid}", expires_at=expiry))
    return found


# -- the source of truth for demand (rebuilds and the reconciler) ----------------------------------


def live_subscriptions() -> dict[str, dict[str, int | None]]:
    """Every live connection's demand: ``name -> {connection_id: user_id}``, a name being a symbol (its
    trades) or a book's :func:`book_demand` name.

    Built from the owner items (``CONN#{id}/SYM#{symbol}`` and ``BOOK#{symbol}``, what a removal
    releases) of connections whose ``META`` still exists. A Scan: for rebuilding demand after Redis
    came back empty and for the periodic reconciler, never for a request.
    """
    model = _model()
    by_symbol: dict[str, set[str]] = {}
    owned = model.sk.startswith(SYMBOL) | model.sk.startswith(BOOK)
    for item in model.scan(filter_condition=model.pk.startswith(CONN) & owned):
        if not _expired(item):
            name = (
                item.sk.removeprefix(SYMBOL) if item.sk.startswith(SYMBOL) else book_demand(item.sk.removeprefix(BOOK))
            )
            by_symbol.setdefault(name, set()).add(item.pk.removeprefix(CONN))
    infos = get_many({cid for ids in by_symbol.values() for cid in ids})
    found: dict[str, dict[str, int | None]] = {}
    for symbol, ids in by_symbol.items():
        live = {cid: infos[cid].user_id for cid in ids if cid in infos}
        if live:
            found[symbol] = live
    return found
