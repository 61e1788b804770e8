"""schemathesis with all its checks against the REST API (issue 17): every operation of the served
OpenAPI document must answer as the document says, in the envelope, and never 5xx.

The API is the template's: the local HTTP API on a free port turns each request into a real API Gateway
proxy event for ApiFunction / LoginFunction, run in their local Lambda environments against the
session's seeded database (no schedules, no queue pollers). KIS is an address nobody answers on, so the
routes that need it must answer its absence as the contract says. Authenticated operations get a fresh
token of a real user on every request, so ``/users/logout`` (which revokes the token it is sent with) is
tested like any other operation.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from support.cloud import start_cloud
from support.paths import PROJECT_ROOT
from support.users import Api, User, make_user, new_email

from kstock import cache, keys
from kstock.auth import tokens
from kstock_local.cloud.runtime import LocalCloud
from kstock_local.embedded import free_port

SEED = 17
EXAMPLES_PER_OPERATION = 8

# Operations with a documented 400 for input that no JSON Schema can describe: for them a schema-valid
# request may still be INVALID_REQUEST / INVALID_PASSWORD (positive_data_acceptance allows that 400 only).
RULES_BEYOND_JSON_SCHEMA = {
    # times: ISO-8601 or unix seconds that exist (no 2026-02-30), within 1900-2100, start before end, a
    # bounded span per interval
    "GET /companies/{companyId}/ohlcv": "time format, range, order and span",
    "GET /companies/{companyId}/indicators": "time format, range and order",
    "GET /indices/kospi": "time format, range and order",
    "GET /indices/kosdaq": "time format, range and order",
    # codes must be well-formed and listed: "Invalid codes answer 400 naming them"
    "GET /realtime-prices/polling": "codes that exist",
    # the companies must exist (an existence rule, like the times' range)
    "POST /comparisons": "companies that exist",
    # the password rule counts Unicode letters, digits and symbols (str.isalpha, isdigit) and UTF-8 bytes
    "POST /users/signup": "the password rule",
}

# every check schemathesis has ("enabled" for all), every phase, one worker, reproducible cases
CONFIG = f"""
seed = {SEED}
suppress-health-check = ["all"]
workers = 1
request-timeout = 30

[generation]
max-examples = {EXAMPLES_PER_OPERATION}
deterministic = true
database = "none"
# NUL is refused in every text input (PostgreSQL cannot store it: INVALID_REQUEST, tested in test_api_companies
# and test_api_users); schemathesis' own switch for such servers, rather than a pattern on every string
allow-x00 = false

[checks]
enabled = true

[phases.examples]
enabled = true
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = true
""" + "".join(
    f"""
[[operations]]
include-name = "{name}"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 429, 400]
"""
    for name in RULES_BEYOND_JSON_SCHEMA
)


@dataclass(frozen=True)
class Finding:
    operation: str
    check: str
    title: str
    message: str
    request: str

    def __str__(self) -> str:
        return f"{self.operation} [{self.check}] {self.title}: {self.message.strip()[:400]}\n    {self.request}"


def _findings(event: events.ScenarioFinished) -> Iterator[Finding]:
    recorder = event.recorder
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            case = recorder.cases[case_id].value
            response = recorder.find_response(case_id=case_id)
            answer = f"{response.status_code} {response.text[:200]}" if response is not None else "no response"
            request = f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]} -> {answer}"
            yield Finding(recorder.label, check.name, failure.title, failure.message, request)


@pytest.fixture(scope="module")
def runner_user(api: Api, fast_bcrypt: None) -> User:
    return make_user(api)


@pytest.fixture(scope="module")
def local_api(services: dict[str, str], database: str, moto_endpoint: str) -> Iterator[LocalCloud]:
    """The template's HTTP API alone (its functions' local environments), unthrottled for the run."""
    env = {
        **services,
        "JWT_SECRET": tokens.signing_key(),
        "BCRYPT_ROUNDS": "4",
        "RATE_LIMIT_REQUESTS": "1000000",
        # KIS at an address nobody listens on: its routes answer as the contract says when it is down
        "KIS_REST_URL": f"http://127.0.0.1:{free_port()}",
        "KIS_WS_URL": f"ws://127.0.0.1:{free_port()}",
        "HEALTH_REQUIRES_STREAMER": "false",
    }
    with start_cloud(PROJECT_ROOT / "template.yaml", moto_endpoint, env, serve_events=False, concurrency=1) as cloud:
        yield cloud
    forget_request_counts()


def forget_request_counts() -> None:
    """The run's requests and failed logins (all from 127.0.0.1) must not count against later tests."""
    redis = cache.client()
    for pattern in (keys.rate_limit("*"), keys.login_failures("*", "*")):
        for key in redis.scan_iter(pattern):
            redis.delete(key)


def run_schemathesis(base_url: str, user: User) -> tuple[list[Finding], list[str], int]:
    config = SchemathesisConfig.from_str(f'base-url = "{base_url}"\n' + CONFIG)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)

    @schema.auth(refresh_interval=None)
    class FreshToken:
        """A new token of the runner's user per request: logout revokes only the one it was sent with."""

        def get(self, case: Any, context: Any) -> str:
            return tokens.issue(user.user_id)

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    findings: list[Finding] = []
    errors: list[str] = []
    scenarios = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            findings.extend(_findings(event))
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return findings, errors, scenarios


def test_schemathesis_with_all_checks_finds_nothing(local_api: LocalCloud, runner_user: User) -> None:
    findings, errors, scenarios = run_schemathesis(local_api.http_url, runner_user)
    unique = sorted({(f.operation, f.check, f.title): f for f in findings}.values(), key=str)
    report = "\n".join(map(str, unique)) + "\n" + "\n".join(errors)
    assert scenarios > 30
    assert not unique and not errors, f"{len(unique)} findings, {len(errors)} errors:\n{report}"


# -- a request body the API cannot read -------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True], ids=["false-gzip", "real-gzip"])
def test_a_content_encoded_body_is_refused_in_the_envelope(local_api: LocalCloud, compressed: bool) -> None:
    """A ``Content-Encoding: gzip`` body (whether it is gzip or not) is INVALID_REQUEST, never a 500:
    API Gateway passes bodies as sent and kstock reads only uncompressed JSON."""
    body = json.dumps({"email": "nobody@example.com", "password": "Passw0rd!"}).encode()
    answer = requests.post(
        f"{local_api.http_url}/users/login",
        data=gzip.compress(body) if compressed else body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    envelope = answer.json()
    assert set(envelope) == {"status", "code", "message"}
    assert (envelope["status"], envelope["code"]) == (400, "INVALID_REQUEST")
    assert "Content-Encoding" in envelope["message"]


def test_an_identity_content_encoding_is_read_as_usual(local_api: LocalCloud) -> None:
    forget_request_counts()  # schemathesis' wrong passwords may have locked this IP's logins
    answer = requests.post(
        f"{local_api.http_url}/users/login",
        json={"email": new_email(), "password": "Passw0rd!"},
        headers={"Content-Encoding": "identity"},
        timeout=30,
    )
    assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHORIZED")
