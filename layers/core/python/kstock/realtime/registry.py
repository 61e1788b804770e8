"""The WebSocket connection registry in DynamoDB (PynamoDB).

One table, two item kinds, keyed so every question is a Query on a partition, never a Scan:

* ``pk=CONN#{id}, sk=META``         the connection (user, endpoint, delivery mode)
* ``pk=CONN#{id}, sk=SYM#{symbol}`` what a connection wants (listed when it goes away)
* ``pk=SYM#{symbol}, sk=CONN#{id}`` who wants a symbol (the fan-out's question)

Every item carries ``expiresAt`` (DynamoDB TTL) so rows of connections that vanished without a
``$disconnect`` expire on their own. Writes are puts and deletes of whole items, so a retried
invocation changes nothing the second time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from kstock.config import get_settings

_models: dict[tuple[str, str | None, str], type[Model]] = {}


class _ConnectionItem(Model):
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    user_id = NumberAttribute(null=True, attr_name="userId")
    domain_name = UnicodeAttribute(null=True, attr_name="domainName")
    stage = UnicodeAttribute(null=True)
    mode = UnicodeAttribute(null=True)
    connected_at = NumberAttribute(null=True, attr_name="connectedAt")
    expires_at = TTLAttribute(attr_name="expiresAt")


def _model() -> type[_ConnectionItem]:
    """The item class bound to the configured table and endpoint (PynamoDB binds them per class)."""
    settings = get_settings()
    key = (settings.connections_table, settings.aws_endpoint_url, settings.aws_region)
    if key not in _models:
        meta = type("Meta", (), {"table_name": key[0], "host": key[1], "region": key[2]})
        _models[key] = type("ConnectionItem", (_ConnectionItem,), {"Meta": meta})
    return _models[key]


def _expiry() -> timedelta:
    return timedelta(seconds=get_settings().ws_connection_ttl_seconds)


@dataclass(frozen=True)
class ConnectionInfo:
    connection_id: str
    user_id: int | None
    domain_name: str | None
    stage: str | None
    mode: str


def register(connection_id: str, *, user_id: int | None, domain_name: str, stage: str) -> None:
    _model()(f"CONN#{connection_id}", "META", user_id=user_id, domain_name=domain_name, stage=stage, mode="tick",
             connected_at=int(time.time() * 1000), expires_at=_expiry()).save()


def get(connection_id: str) -> ConnectionInfo | None:
    model = _model()
    try:
        item = model.get(f"CONN#{connection_id}", "META")
    except model.DoesNotExist:
        return None
    return ConnectionInfo(connection_id, int(item.user_id) if item.user_id is not None else None,
                          item.domain_name, item.stage, item.mode or "tick")


def symbols_of(connection_id: str) -> list[str]:
    model = _model()
    return [item.sk.removeprefix("SYM#")
            for item in model.query(f"CONN#{connection_id}", model.sk.startswith("SYM#"))]


def subscribers_of(symbol: str) -> list[str]:
    return [item.sk.removeprefix("CONN#") for item in _model().query(f"SYM#{symbol}")]


def remove(connection_id: str) -> list[str]:
    """Delete a connection and all its subscriptions; return the symbols it had."""
    model = _model()
    symbols = symbols_of(connection_id)
    with model.batch_write() as batch:
        for symbol in symbols:
            batch.delete(model(f"SYM#{symbol}", f"CONN#{connection_id}"))
            batch.delete(model(f"CONN#{connection_id}", f"SYM#{symbol}"))
        batch.delete(model(f"CONN#{connection_id}", "META"))
    return symbols
