"""WebSocket API handlers ($connect, $default, $disconnect): translate API Gateway events to the
core's session calls and deliver replies through the @connections API."""

from __future__ import annotations

import json

from chalice.app import Response, WebsocketEvent

from chalicelib.web import UNAVAILABLE_ERRORS, unavailable
from kstock.auth.tokens import bearer
from kstock.aws import connections_client
from kstock.errors import ApiError
from kstock.logs import get_logger
from kstock.realtime import session

log = get_logger("kstock.ws")


def _token(event: WebsocketEvent) -> str | None:
    raw = event.to_dict()
    query = raw.get("queryStringParameters") or {}
    headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
    return query.get("token") or bearer(headers.get("authorization"))


def connect(event: WebsocketEvent) -> Response:
    try:
        session.open_connection(event.connection_id, _token(event), domain_name=event.domain_name, stage=event.stage)
    except ApiError as exc:  # 401 bad token, 429 over the user's connection limit
        return Response(body=json.dumps(exc.envelope()), status_code=exc.status, headers=exc.headers)
    except UNAVAILABLE_ERRORS as exc:  # a store down or restarting: retry later, not a 500
        refused = unavailable(exc)
        return Response(body=json.dumps(refused.envelope()), status_code=refused.status, headers=refused.headers)
    return Response(body="", status_code=200)


def message(event: WebsocketEvent) -> None:
    replies = session.handle_message(event.connection_id, event.body, domain_name=event.domain_name, stage=event.stage)
    client = connections_client(event.domain_name, event.stage)
    for reply in replies:
        try:
            client.post_to_connection(
                ConnectionId=event.connection_id, Data=json.dumps(reply, ensure_ascii=False).encode()
            )
        except client.exceptions.GoneException:
            log.info("client left before its reply", extra={"connection_id": event.connection_id})
            return


def disconnect(event: WebsocketEvent) -> None:
    # the fan-out may have removed it already after a 410: then nothing is released twice
    session.close_connection(event.connection_id)
