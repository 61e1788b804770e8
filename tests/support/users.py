"""Helpers of the REST API tests (issue 7): users with tokens, company ids. Their fixtures (``fast_bcrypt``,
``user``, ``other_user``, ``market_snapshot``) are in tests/fixtures/api.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

PASSWORD = "Passw0rd!"

# The ``api`` fixture: (method, path, *, query, body, headers) -> (status, payload, headers).
Api = Callable[..., tuple[int, Any, dict[str, str]]]


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


def make_user(api: Api, password: str = PASSWORD) -> User:
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
        row: Any = conn.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()
        return int(row["id"])


def company_id(database: str, symbol: str) -> int:
    with psycopg.connect(database) as conn:
        row: Any = conn.execute("SELECT id FROM companies WHERE symbol = %s", (symbol,)).fetchone()
        return int(row[0])
