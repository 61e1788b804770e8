"""Issue 17, findings 2 and 3: Redis holds nothing that cannot be rebuilt, and its outage or
restart never turns into a 500 or a revived token."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest
import redis
from chalice import Response
from support.envs import environment
from support.waiting import wait_for, wait_for_async

from kstock import cache, keys
from kstock.auth import tokens
from kstock_local.embedded import EmbeddedRedis, free_port
from kstock_local.supervisor import keep_embedded_redis


@pytest.fixture
def persistent_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis", persist=True)
    server.start()
    yield server
    server.stop()


def _client(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=10)


def test_embedded_redis_runs_an_append_only_file_and_snapshots(persistent_redis):
    """Before the fix ``"--save", "60 1"`` reached redis-server 6.2 as ``save "60 1"``: no persistence."""
    config = _client(persistent_redis).config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["save"] == "60 1"


def test_a_write_survives_kill_9_of_the_embedded_redis(persistent_redis):
    client = _client(persistent_redis)
    client.set("reliability:probe", "kept")
    aof = persistent_redis.data_dir / "appendonly.aof"
    wait_for(lambda: aof.exists() and b"reliability:probe" in aof.read_bytes(), 30, "the write in the AOF")
    os.kill(persistent_redis.pid, signal.SIGKILL)
    wait_for(lambda: persistent_redis.exit_code() is not None, 30, "redis-server to die")
    persistent_redis.relaunch()
    wait_for(persistent_redis.started, 30, "redis-server to come back")
    assert wait_for(lambda: _loaded_value(persistent_redis, "reliability:probe"), 30, "the AOF reloaded") == "kept"


def _loaded_value(server: EmbeddedRedis, key: str) -> str | None:
    try:
        return _client(server).get(key)
    except redis.BusyLoadingError:  # port open, append-only file still loading
        return None


def test_kstock_up_restarts_a_killed_embedded_redis(persistent_redis):
    first_pid = persistent_redis.pid

    async def restarted_and_answering() -> bool:
        if persistent_redis.pid == first_pid or persistent_redis.exit_code() is not None:
            return False
        try:
            return bool(await asyncio.to_thread(_client(persistent_redis).ping))
        except redis.ConnectionError:
            return False

    async def scenario() -> str | None:
        keeper = asyncio.create_task(keep_embedded_redis(persistent_redis, check_every=0.05))
        try:
            os.kill(first_pid, signal.SIGKILL)
            await wait_for_async(restarted_and_answering, 15, "the killed Redis restarted and answering PING")
            return "pong"
        finally:
            keeper.cancel()

    assert asyncio.run(scenario()) == "pong"


def test_a_revoked_token_stays_revoked_when_redis_forgets(api, user):
    """Finding 2: the revocation lived only in Redis; a restart without persistence revived it."""
    claims = tokens.decode(user.token)
    assert api("POST", "/users/logout", headers=user.headers)[0] == 200
    cache.client().delete(keys.revoked_token(claims.token_id))  # Redis came back empty
    status, body, _ = api("GET", "/users/favorites", headers=user.headers)
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert cache.client().exists(keys.revoked_token(claims.token_id))  # the cache learnt it again


def test_token_routes_and_logout_work_while_redis_is_down(api, user):
    """Finding 3: every route needing a token answered 500 while Redis was down."""
    down = f"redis://127.0.0.1:{free_port()}/0"
    with environment(REDIS_URL=down):
        status, body, _ = api("GET", "/users/favorites", headers=user.headers)
        assert status == 200, body
        assert api("POST", "/users/logout", headers=user.headers)[0] == 200
        status, body, _ = api("GET", "/users/favorites", headers=user.headers)
        assert (status, body["code"]) == (401, "UNAUTHORIZED")
    status, body, _ = api("GET", "/users/favorites", headers=user.headers)
    assert (status, body["code"]) == (401, "UNAUTHORIZED")  # and still once Redis is back


@pytest.mark.parametrize("failure", [redis.ConnectionError("refused"), redis.TimeoutError("slow")])
def test_a_store_outage_in_a_route_is_a_503_envelope(failure):
    from chalicelib.web import KstockChalice
    from kstock_local.cloud.gateway.http_api import build_proxy_event
    from kstock_local.cloud.lambdas.runtime import LambdaContext

    app = KstockChalice("outage")

    @app.route("/needs-redis")
    def needs_redis() -> Response:
        raise failure

    event = build_proxy_event("GET", "/needs-redis", [], [], b"", "127.0.0.1", "localhost:3000")
    result = app(event, LambdaContext(function_name="ApiFunction"))
    body = json.loads(result["body"])
    assert (result["statusCode"], body["status"], body["code"]) == (503, 503, "STREAM_UNAVAILABLE")
    assert result["headers"]["Retry-After"] == "5"


def test_postgres_down_is_a_503_envelope(api, database):
    """Issue 17: "Redis or Postgres down becomes 503 with the envelope" (it was a 500)."""
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=1"
    cache.client().delete(keys.RANKINGS_INDUSTRIES)  # answered from Postgres, not the cache
    with environment(DATABASE_URL=down):
        status, body, headers = api("GET", "/rankings/industries")
    assert (status, body["status"], body["code"]) == (503, 503, "STREAM_UNAVAILABLE"), body
    assert headers["Retry-After"] == "5"
    assert api("GET", "/rankings/industries")[0] == 200  # and back once it is
