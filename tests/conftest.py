"""Shared fixtures: every test session gets its own PostgreSQL and Redis (never ./.kstock)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from envs import environment
from serverdirs import server_dir

from kstock import db
from kstock_local.cloud.gateway.http_api import build_proxy_event
from kstock_local.cloud.lambdas.runtime import LambdaContext, load_handler
from kstock_local.embedded import EmbeddedPostgres, EmbeddedRedis

# A fresh machine has no AWS settings: neither do the tests, whatever the developer's shell or ~/.aws
# holds. kstock must find its local credentials itself (kstock.aws), as it does for a newcomer.
AMBIENT_AWS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
)


@pytest.fixture(scope="session", autouse=True)
def no_ambient_aws(tmp_path_factory) -> Iterator[None]:
    empty = tmp_path_factory.mktemp("no-aws") / "none"
    empty.write_text("")
    with environment(**dict.fromkeys(AMBIENT_AWS), AWS_SHARED_CREDENTIALS_FILE=str(empty), AWS_CONFIG_FILE=str(empty)):
        yield


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    with server_dir("test-home") as home:
        postgres = EmbeddedPostgres(home / "pg", delete_on_stop=True)
        redis = EmbeddedRedis(home / "redis", persist=False)
        urls = {"DATABASE_URL": postgres.start(), "REDIS_URL": redis.start()}
        try:
            with environment(**urls, KSTOCK_HOME=str(home), KSTOCK_ENV="test", KSTOCK_EMBEDDED="postgres,redis"):
                yield urls
        finally:
            db.close_pool()
            redis.stop()
            postgres.stop()


@pytest.fixture(scope="session")
def database(services) -> str:
    """The session database, migrated and seeded."""
    from kstock.companies.reference import seed
    from kstock.db.migrate import migrate

    url = services["DATABASE_URL"]
    migrate(url)
    with db.connect(url) as conn:
        seed(conn)
    return url


@pytest.fixture
def empty_database(services) -> Iterator[str]:
    """A brand-new empty database on the session server, dropped afterwards."""
    name = f"t_{os.urandom(4).hex()}"
    admin_url = services["DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.replace("/postgres?", f"/{name}?")
    assert url != admin_url
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def api(database):
    """Call the REST handler with real API Gateway proxy events."""
    handler = load_handler("app.app")

    def call(
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict, dict]:
        raw = body.encode() if isinstance(body, str) else (body or b"")
        event = build_proxy_event(
            method, path, list((query or {}).items()), list((headers or {}).items()), raw, "127.0.0.1", "localhost:3000"
        )
        result = handler(event, LambdaContext(function_name="ApiFunction"))
        payload = json.loads(result["body"]) if result.get("body") else {}
        return result["statusCode"], payload, result.get("headers") or {}

    return call


PROJECT_ROOT = Path(__file__).resolve().parents[1]
