"""What a WebSocket connection may do: open (authenticated), send actions, close.

The handlers in ``functions/ws.py`` only translate API Gateway events to these calls.
Replies are returned, not sent, so the handler decides how to deliver them.
"""

from __future__ import annotations

import json
from typing import Any

from kstock.auth import tokens
from kstock.realtime import registry

ERROR_INVALID = "INVALID_REQUEST"


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def open_connection(connection_id: str, token: str | None, *, domain_name: str, stage: str) -> int:
    """Verify the token and record the connection; raises Unauthorized for a bad token."""
    claims = tokens.verify(token)
    registry.register(connection_id, user_id=claims.user_id, domain_name=domain_name, stage=stage)
    return claims.user_id


def handle_message(connection_id: str, body: str | None) -> list[dict[str, Any]]:
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
    return [error(ERROR_INVALID, f"unknown action {action!r}; known: ping")]


def close_connection(connection_id: str) -> list[str]:
    return registry.remove(connection_id)
