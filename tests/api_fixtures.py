"""Helpers of the REST API tests (issue 7): fast bcrypt, users with tokens, market-data snapshots."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import psycopg
import pytest
from envs import environment

PASSWORD = "Passw0rd!"


@pytest.fixture(scope="module")
def fast_bcrypt():
    """bcrypt at its lowest cost for the module (sign-ups are not what these tests measure)."""
    with environment(BCRYPT_ROUNDS="4"):
        yield


@dataclass
class User:
    user_id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def make_user(api, password: str = PASSWORD) -> User:
    email = new_email()
    status, body, _ = api(
        "POST",
        "/users/signup",
        body=json.dumps({"email": email, "username": "tester", "password": password}),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, body
    status, body, _ = api(
        "POST",
        "/users/login",
        body=json.dumps({"email": email, "password": password}),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200, body
    return User(_user_id(email), email, body["accessToken"])


def _user_id(email: str) -> int:
    from kstock import db

    with db.transaction() as conn:
        return conn.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()["id"]


@pytest.fixture
def user(api, fast_bcrypt) -> User:
    return make_user(api)


@pytest.fixture
def other_user(api, fast_bcrypt) -> User:
    return make_user(api)


def company_id(database: str, symbol: str) -> int:
    with psycopg.connect(database) as conn:
        return conn.execute("SELECT id FROM companies WHERE symbol = %s", (symbol,)).fetchone()[0]


@pytest.fixture
def market_snapshot(database):
    """Whatever a test does to market data (caps, quotes, bars, prices), the session database and
    the caches are as before afterwards."""
    with psycopg.connect(database) as conn:
        companies = conn.execute(
            "SELECT id, listed_shares, market_cap, market_data_at, is_halted FROM companies"
        ).fetchall()
        quotes = conn.execute("SELECT * FROM company_quotes").fetchall()
    yield
    from kstock import cache
    from kstock.companies.detail import forget_companies

    with psycopg.connect(database) as conn, conn.cursor() as cur:
        cur.executemany(
            "UPDATE companies SET listed_shares = %s, market_cap = %s, market_data_at = %s, "
            "is_halted = %s WHERE id = %s",
            [(*row[1:], row[0]) for row in companies],
        )
        cur.execute("DELETE FROM company_quotes")
        if quotes:
            cur.executemany("INSERT INTO company_quotes VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", quotes)
    redis = cache.client()
    for key in redis.scan_iter("price:*"):
        redis.delete(key)
    forget_companies([row[0] for row in companies])
