"""Issue 17, finding 6: failed logins back off per account and per IP (429 with Retry-After),
and bcrypt runs in its own function so a login flood cannot starve the API's pool."""

from __future__ import annotations

import json

import pytest
from support.envs import environment
from support.users import PASSWORD, make_user, new_email

from kstock.errors import TooManyRequests
from kstock.users import throttle
from kstock_local.cloud.gateway.http_api import HttpApi, Route, build_proxy_event
from kstock_local.cloud.lambdas.runtime import LambdaContext, load_handler
from kstock_local.cloud.template import read_template
from kstock_local.paths import TEMPLATE_PATH

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def login_from(database):
    """POST /users/login from a given source IP (the proxy event carries it)."""
    handler = load_handler("app.app")

    def call(email: str, password: str, ip: str) -> tuple[int, dict, dict]:
        body = json.dumps({"email": email, "password": password}).encode()
        event = build_proxy_event("POST", "/users/login", [], list(JSON.items()), body, ip, "localhost:3000")
        result = handler(event, LambdaContext(function_name="LoginFunction"))
        return result["statusCode"], json.loads(result["body"]), result.get("headers") or {}

    return call


@pytest.fixture
def strict_throttle(fast_bcrypt):
    with environment(
        LOGIN_FREE_FAILURES="3",
        LOGIN_IP_FREE_FAILURES="6",
        LOGIN_BACKOFF_BASE_SECONDS="60",
        LOGIN_BACKOFF_MAX_SECONDS="600",
    ):
        yield


def test_an_account_backs_off_after_its_free_failures(api, login_from, strict_throttle):
    account = make_user(api)
    for ip in ("10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"):  # spread: the IP limit is not what trips
        assert login_from(account.email, "Wr0ng-pass!", ip)[0] == 401
    # the fourth failure locked the account: even the right password waits, from any IP
    status, body, headers = login_from(account.email, PASSWORD, "10.1.0.5")
    assert (status, body["code"]) == (429, "TOO_MANY_REQUESTS")
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert login_from(new_email(), "Wr0ng-pass!", "10.1.0.5")[0] == 401  # other accounts are untouched


def test_unknown_emails_back_off_like_real_ones(login_from, strict_throttle):
    ghost = new_email()
    answers = [login_from(ghost, "Wr0ng-pass!", f"10.2.0.{i}")[0] for i in range(5)]
    assert answers == [401, 401, 401, 401, 429]  # nothing tells an existing account from a missing one


def test_one_ip_spraying_accounts_backs_off(api, login_from, strict_throttle):
    victim = make_user(api)
    answers = [login_from(new_email(), "Wr0ng-pass!", "10.3.0.1")[0] for _ in range(7)]
    assert answers == [401] * 7
    status, _, headers = login_from(victim.email, PASSWORD, "10.3.0.1")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert login_from(victim.email, PASSWORD, "10.3.0.2")[0] == 200  # another IP logs in


def test_a_success_clears_the_account_count(api, login_from, strict_throttle):
    account = make_user(api)
    for _ in range(3):
        assert login_from(account.email, "Wr0ng-pass!", "10.4.0.1")[0] == 401
    assert login_from(account.email, PASSWORD, "10.4.0.2")[0] == 200
    for _ in range(3):  # three free failures again, not a lock on the first
        assert login_from(account.email, "Wr0ng-pass!", "10.4.0.3")[0] == 401


def test_back_off_doubles_and_expires(services, strict_throttle):
    subjects = throttle.subjects(new_email(), None)
    now = 1_000_000.0
    for _ in range(4):
        throttle.record_failure(subjects, now=now)
    with pytest.raises(TooManyRequests) as locked:
        throttle.check(subjects, now=now + 59)
    assert locked.value.retry_after == 1
    throttle.check(subjects, now=now + 61)  # the 60 s lock is over
    throttle.record_failure(subjects, now=now + 61)
    with pytest.raises(TooManyRequests) as doubled:
        throttle.check(subjects, now=now + 61)
    assert doubled.value.retry_after == 120
    assert [throttle.lock_seconds(n, 3) for n in (3, 4, 5, 6, 20)] == [0, 60, 120, 240, 600]


def test_login_and_signup_have_their_own_function_before_the_proxy(services):
    """A login flood fills LoginFunction's execution environments, never ApiFunction's."""
    template = read_template(TEMPLATE_PATH)
    routes = [Route.of(event, spec.logical_id) for spec in template.functions.values() for event in spec.api_events]
    gateway = HttpApi(routes)  # type: ignore[arg-type]

    def function_of(method: str, path: str) -> str:
        matched = gateway.match(method, path)
        assert matched is not None, (method, path)
        return matched[0].function  # type: ignore[return-value]

    assert function_of("POST", "/users/login") == "LoginFunction"
    assert function_of("POST", "/users/signup") == "LoginFunction"
    assert function_of("POST", "/users/logout") == "ApiFunction"
    assert function_of("GET", "/companies/search") == "ApiFunction"
    assert template.functions["LoginFunction"].handler == template.functions["ApiFunction"].handler
