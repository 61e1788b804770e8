"""WebSocket API handlers ($connect, $default, $disconnect): translate API Gateway events to the
core's session calls and deliver replies through the @connections API.

Plain Lambda handlers, not ``@app.on_ws_*`` of the Chalice app: registering them there made each
WebSocket function import every REST route. They answer as Chalice's WebSocket handlers did: the
response of ``$connect`` decides whether the socket opens; the other routes answer 200.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice.app import Response, WebsocketEvent

from chalicelib.web import UNAVAILABLE_ERRORS, unavailable
from kstock.auth.tokens import bearer
from kstock.aws import connections_client
from kstock.errors import ApiError
from kstock.logs import get_logger
from kstock.realtime import session

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.ws")


def _token(event: WebsocketEvent) -> str | None:
    raw = event.to_dict()
    query = raw.get("queryStringParameters") or {}
    headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
    token = query.get("token") or bearer(headers.get("authorization"))
    return str(token) if token else None


def _refusal(error: ApiError) -> dict[str, Any]:
    headers: dict[str, str | list[str]] = {**error.headers}
    return Response(body=json.dumps(error.envelope()), status_code=error.status, headers=headers).to_dict()


def connect(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ws = WebsocketEvent(event, context)
    try:
        session.open_connection(ws.connection_id, _token(ws), domain_name=ws.domain_name, stage=ws.stage)
    except ApiError as exc:  # 401 bad token, 429 over the user's connection limit
        return _refusal(exc)
    except UNAVAILABLE_ERRORS as exc:  # a store down or restarting: retry later, not a 500
        return _refusal(unavailable(exc))
    return {"statusCode": 200}


def message(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ws = WebsocketEvent(event, context)
    replies = session.handle_message(ws.connection_id, ws.body, domain_name=ws.domain_name, stage=ws.stage)
    client = connections_client(ws.domain_name, ws.stage)
    for reply in replies:
        try:
            client.post_to_connection(
                ConnectionId=ws.connection_id, Data=json.dumps(reply, ensure_ascii=False).encode()
            )
        except client.exceptions.GoneException:
            log.info("client left before its reply", extra={"connection_id": ws.connection_id})
            break
    return {"statusCode": 200}


def disconnect(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # the fan-out may have removed it already after a 410: then nothing is released twice
    session.close_connection(WebsocketEvent(event, context).connection_id)
    return {"statusCode": 200}
