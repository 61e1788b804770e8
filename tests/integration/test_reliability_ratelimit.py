"""Issue 17: the rate limit is a sliding window (no double burst across a window boundary), per
IP always and per user in addition (a token no longer skips the IP's limit)."""

from __future__ import annotations

import json

import pytest
from support.envs import environment
from support.users import make_user

from kstock import cache, keys
from kstock_local.cloud.gateway.http_api import build_proxy_event
from kstock_local.cloud.lambdas.runtime import LambdaContext, load_handler

PATH = "/rankings/industries"


def call_from(ip: str, headers: dict[str, str] | None = None) -> tuple[int, dict, dict]:
    handler = load_handler("app.app")
    event = build_proxy_event("GET", PATH, [], list((headers or {}).items()), b"", ip, "localhost")
    result = handler(event, LambdaContext())
    return result["statusCode"], json.loads(result["body"]), result.get("headers") or {}


def seed(client: str, ages_seconds: list[float]) -> None:
    """Requests of ``client`` made ``ages_seconds`` ago, by Redis's clock (the limiter's)."""
    redis = cache.client()
    seconds, micros = redis.time()
    now_ms = seconds * 1000 + micros // 1000
    key = keys.rate_limit(client)
    redis.delete(key)
    redis.zadd(key, {f"seeded-{i}": now_ms - age * 1000 for i, age in enumerate(ages_seconds)})
    redis.pexpire(key, 120_000)


@pytest.fixture
def limit_3_per_minute(database):
    with environment(RATE_LIMIT_REQUESTS="3", RATE_LIMIT_WINDOW_SECONDS="60"):
        yield


def test_the_window_slides_retry_after_is_when_the_oldest_request_leaves_it(limit_3_per_minute):
    seed("ip:192.0.2.10", [30, 20, 10])  # three requests in the last minute: a full window
    status, body, headers = call_from("192.0.2.10")
    assert (status, body["code"]) == (429, "TOO_MANY_REQUESTS")
    assert 28 <= int(headers["Retry-After"]) <= 31  # the 30 s old one leaves in ~30 s, not a whole window


def test_requests_older_than_the_window_no_longer_count(limit_3_per_minute):
    seed("ip:192.0.2.11", [61, 61, 61, 59])  # one still inside
    assert [call_from("192.0.2.11")[0] for _ in range(3)] == [200, 200, 429]


def test_a_token_does_not_skip_the_ip_limit(api, fast_bcrypt):
    """Finding 10: a request with a token was counted only against its user: N accounts, N x the limit."""
    first, second = make_user(api), make_user(api)
    with environment(RATE_LIMIT_REQUESTS="3", RATE_LIMIT_WINDOW_SECONDS="60"):
        _two_users_one_ip(first, second)


def _two_users_one_ip(first, second) -> None:
    for client in ("ip:192.0.2.12", "ip:192.0.2.13", f"user:{first.user_id}", f"user:{second.user_id}"):
        cache.client().delete(keys.rate_limit(client))
    auth = [{"Authorization": f"Bearer {u.token}"} for u in (first, second)]
    assert [call_from("192.0.2.12", auth[0])[0] for _ in range(2)] == [200, 200]
    assert call_from("192.0.2.12", auth[1])[0] == 200
    status, _, headers = call_from("192.0.2.12", auth[1])  # the user has 2 left; the IP has none
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert call_from("192.0.2.13", auth[1])[0] == 200  # the same user elsewhere is fine
    # and the user limit holds across IPs: the first user has one request left
    assert call_from("192.0.2.14", auth[0])[0] == 200
    assert call_from("192.0.2.15", auth[0])[0] == 429
