"""Issue 17, finding 10: a socket kept streaming after its token was revoked. Logging out closes
the user's WebSocket connections through ``@connections`` DELETE (the real template, local cloud)."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from support.cloud import start_cloud
from support.envs import environment
from support.paths import PROJECT_ROOT
from support.waiting import wait_for
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from kstock.auth import tokens
from kstock.realtime import registry

SECRET = "test-only-signing-key-not-a-real-secret"


@pytest.fixture(scope="module")
def cloud(services, database, moto_endpoint):
    with start_cloud(PROJECT_ROOT / "template.yaml", moto_endpoint, {**services, "JWT_SECRET": SECRET}) as running:
        yield running


@pytest.fixture
def same_settings(cloud):
    """This process signs with the functions' key and reads the same registry."""
    with environment(JWT_SECRET=SECRET, AWS_ENDPOINT_URL=cloud.endpoint):
        yield


def test_logout_closes_the_users_sockets_and_only_theirs(cloud, same_settings):
    user = uuid.uuid4().int % 1_000_000 + 5_000_000
    token, bystander = tokens.issue(user), tokens.issue(user + 1)
    mine = [connect(f"{cloud.ws_url}?token={token}", open_timeout=30) for _ in range(2)]
    theirs = connect(f"{cloud.ws_url}?token={bystander}", open_timeout=30)
    try:
        wait_for(lambda: len(registry.user_connections(user)) == 2, 30, "both sockets registered")
        answer = requests.post(
            f"{cloud.http_url}/users/logout", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        for ws in mine:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=30)
        theirs.send(json.dumps({"action": "ping"}))
        assert json.loads(theirs.recv(timeout=30)) == {"type": "pong"}
        wait_for(lambda: registry.user_connections(user) == [], 30, "$disconnect to remove the closed sockets")
        with pytest.raises(InvalidStatus):  # and the token opens no new one
            connect(f"{cloud.ws_url}?token={token}", open_timeout=30)
    finally:
        for ws in (*mine, theirs):
            ws.close()
