"""The stack's REST API as the suite uses it: accounts signed up and logged in over HTTP, health,
metrics, search and polling."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

# Fixture passwords of throwaway accounts on a temporary stack (the password rule: letter, digit, symbol).
PASSWORD = "Chaos#Suite42"
WRONG_PASSWORD = "Wrong#Guess99"


@dataclass(frozen=True)
class Account:
    user_id: int
    email: str
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Timed:
    """An answer and how long it took."""

    status: int
    body: dict[str, Any]
    seconds: float


class Api:
    def __init__(self, base_url: str, streamer_health_url: str) -> None:
        self.base_url = base_url
        self.streamer_health_url = streamer_health_url

    def call(self, method: str, path: str, *, timeout: float = 60, **kwargs: Any) -> Timed:
        started = time.monotonic()
        answer = requests.request(method, f"{self.base_url}{path}", timeout=timeout, **kwargs)
        elapsed = time.monotonic() - started
        try:
            body = answer.json()
        except ValueError:
            body = {"raw": answer.text[:300]}
        return Timed(answer.status_code, body if isinstance(body, dict) else {"data": body}, elapsed)

    # -- accounts ------------------------------------------------------------------------------

    def sign_up(self, label: str) -> Account:
        email = f"chaos-{label}-{uuid.uuid4().hex[:8]}@example.com"
        signup = self.call(
            "POST", "/users/signup", json={"email": email, "username": f"c{uuid.uuid4().hex[:8]}", "password": PASSWORD}
        )
        if signup.status != 201:
            raise AssertionError(f"sign-up of {email} answered {signup.status}: {signup.body}")
        login = self.login(email, PASSWORD)
        if login.status != 200:
            raise AssertionError(f"login of {email} answered {login.status}: {login.body}")
        return Account(int(signup.body["userId"]), email, str(login.body["accessToken"]))

    def login(self, email: str, password: str, timeout: float = 60) -> Timed:
        return self.call("POST", "/users/login", json={"email": email, "password": password}, timeout=timeout)

    def logout(self, account: Account) -> Timed:
        return self.call("POST", "/users/logout", headers=account.bearer)

    def favorites(self, account: Account) -> Timed:
        """A route that needs a valid, unrevoked token."""
        return self.call("GET", "/users/favorites", headers=account.bearer)

    # -- reads ---------------------------------------------------------------------------------

    def search(self, keyword: str, timeout: float = 60) -> Timed:
        return self.call("GET", "/companies", params={"keyword": keyword}, timeout=timeout)

    def polling(self, tickers: list[str], timeout: float = 60) -> Timed:
        return self.call("GET", "/realtime-prices/polling", params={"tickers": ",".join(tickers)}, timeout=timeout)

    def health(self, timeout: float = 30) -> Timed:
        return self.call("GET", "/health", timeout=timeout)

    def ws_metrics(self) -> dict[str, Any]:
        answer = self.call("GET", "/ws/metrics", timeout=30)
        if answer.status != 200:
            raise AssertionError(f"/ws/metrics answered {answer.status}: {answer.body}")
        data = answer.body["data"]
        return data if isinstance(data, dict) else {}

    def streamer_health(self, timeout: float = 10) -> Timed:
        started = time.monotonic()
        answer = requests.get(self.streamer_health_url, timeout=timeout)
        return Timed(answer.status_code, answer.json(), time.monotonic() - started)
