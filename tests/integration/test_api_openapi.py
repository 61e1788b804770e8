"""GET /openapi.json (generated from the registered routes), /docs (served by kstock itself) and the
per-client rate limit shared through Redis (429 with a correct Retry-After)."""

from __future__ import annotations

import contextlib
import json
import re
import time

import pytest
from support.envs import environment
from support.users import make_user
from support.waiting import wait_for

from kstock import cache, keys
from kstock_local.cloud.gateway.http_api import build_proxy_event
from kstock_local.cloud.lambdas.runtime import LambdaContext, load_handler

MY_ROUTES = {
    ("/health", "get"),
    ("/companies", "get"),
    ("/companies/{companyId}", "get"),
    ("/companies/{companyId}/financials", "get"),
    ("/companies/{companyId}/reports", "get"),
    ("/companies/{companyId}/news", "get"),
    ("/industries/{industryId}/news", "get"),
    ("/companies/{companyId}/news/keywords", "get"),
    ("/companies/{companyId}/data-status", "get"),
    ("/users/signup", "post"),
    ("/users/login", "post"),
    ("/users/logout", "post"),
    ("/users/favorites", "get"),
    ("/users/favorites", "post"),
    ("/users/favorites/{favoriteId}", "delete"),
    ("/users/portfolio", "get"),
    ("/users/portfolio", "post"),
    ("/users/portfolio", "delete"),
    ("/users/portfolio/{holdingId}", "delete"),
    ("/comparisons", "get"),
    ("/comparisons", "post"),
    ("/comparisons/{comparisonId}", "get"),
    ("/indices/kospi", "get"),
    ("/indices/kosdaq", "get"),
    ("/rankings/companies", "get"),
    ("/rankings/industries", "get"),
    ("/rankings/industries/{industryId}/companies", "get"),
    ("/companies/{companyId}/indicators", "get"),  # issue 15
    ("/scans", "post"),
    ("/scans/latest", "get"),
    ("/scans/{scanId}", "get"),  # issue 15
    ("/themes", "get"),
    ("/themes/metrics", "get"),
    ("/themes/{themeId}", "get"),  # issue 14
    ("/companies/{companyId}/orderbook", "get"),  # issue 18
}


@pytest.fixture(scope="module")
def spec(api):
    status, body, headers = api("GET", "/openapi.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    return body


def test_every_registered_route_is_in_the_document(spec):
    app = load_handler("app.app")
    documented = {(path, method) for path, methods in spec["paths"].items() for method in methods}
    registered = {
        (path, method.lower())
        for path, methods in app.routes.items()
        for method in methods
        if not path.startswith(("/docs", "/openapi"))
    }
    assert registered == documented
    assert MY_ROUTES <= documented


def test_declared_operations_document_parameters_bodies_answers_and_errors(spec):
    login = spec["paths"]["/users/login"]["post"]
    body = login["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/LoginRequest"}
    assert set(login["responses"]) == {"200", "400", "401", "429"}
    assert login["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    favorites = spec["paths"]["/users/favorites"]["get"]
    assert favorites["security"] == [{"bearerAuth": []}]
    params = {p["name"]: p for p in favorites["parameters"]}
    assert params["size"]["schema"]["maximum"] == 100 and params["page"]["schema"]["minimum"] == 1
    detail = spec["paths"]["/companies/{companyId}"]["get"]
    assert detail["parameters"][0] == {
        "name": "companyId",
        "in": "path",
        "required": True,
        "description": "Numeric id.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    }
    assert detail["responses"]["404"]["content"]["application/json"]["schema"]["properties"]["code"]["enum"] == [
        "NOT_FOUND"
    ]
    signup = spec["paths"]["/users/signup"]["post"]["responses"]
    assert set(signup) == {"201", "400", "409", "429"}
    assert set(signup["400"]["content"]["application/json"]["schema"]["properties"]["code"]["enum"]) == {
        "INVALID_PASSWORD",
        "INVALID_REQUEST",
        "MISSING_FIELD",
    }
    health = spec["paths"]["/health"]["get"]["responses"]
    assert set(health) == {"200", "503"}  # health is not rate limited
    components = spec["components"]["schemas"]
    assert "companyId" in components["CompanyDetail"]["properties"]  # camelCase, as on the wire
    interval = {p["name"]: p for p in spec["paths"]["/indices/kospi"]["get"]["parameters"]}["interval"]
    assert interval["schema"]["enum"] == ["1d", "1m"]


def test_the_document_is_valid_openapi_3_1(spec):
    from jsonschema.validators import Draft202012Validator

    assert spec["openapi"].startswith("3.1")
    for name, schema in spec["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name


def test_an_undeclared_route_is_still_documented():
    load_handler("app.app")
    from chalicelib.openapi import document
    from chalicelib.web import KstockChalice

    app = KstockChalice("probe")

    @app.route("/things/{thingId}", methods=["GET"])
    def get_thing(thingId):
        """A thing. More text."""

    spec = document(app)
    op = spec["paths"]["/things/{thingId}"]["get"]
    assert op["summary"] == "A thing" and op["parameters"][0]["name"] == "thingId"
    assert "default" in op["responses"]


def raw_get(path: str):
    handler = load_handler("app.app")
    result = handler(build_proxy_event("GET", path, [], [], b"", "127.0.0.1", "localhost"), LambdaContext())
    return result["statusCode"], result.get("body") or "", result.get("headers") or {}


def test_docs_page_and_its_assets_are_served_by_kstock():
    status, html, headers = raw_get("/docs")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources)  # no CDN
    assert "docs/docs.js" in sources and "docs/docs.css" in sources
    for asset, kind in (("docs.js", "application/javascript"), ("docs.css", "text/css")):
        status, text, headers = raw_get(f"/docs/{asset}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and len(text) > 500
        assert "http://" not in text and "https://" not in text
    assert raw_get("/docs/evil.js")[0] == 404
    status, _, headers = raw_get("/docs/")
    assert status == 301 and headers["Location"] == "../docs"


def test_content_type_refusals_come_in_the_envelope(api):
    status, body, _ = api("POST", "/users/login", body="x", headers={"Content-Type": "text/plain"})
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


# -- rate limit ---------------------------------------------------------------------------------------


@pytest.fixture
def limit():
    with contextlib.ExitStack() as stack:

        def apply(requests: int, window: int = 60) -> None:
            stack.enter_context(environment(RATE_LIMIT_REQUESTS=str(requests), RATE_LIMIT_WINDOW_SECONDS=str(window)))

        yield apply


def call_from(ip: str, path: str, headers: dict[str, str] | None = None):
    handler = load_handler("app.app")
    event = build_proxy_event("GET", path, [], list((headers or {}).items()), b"", ip, "localhost")
    result = handler(event, LambdaContext())
    return result["statusCode"], json.loads(result["body"]), result.get("headers") or {}


def test_over_the_limit_a_client_gets_429_with_retry_after(limit):
    cache.client().delete(keys.rate_limit("ip:203.0.113.7"), keys.rate_limit("ip:203.0.113.8"))
    limit(3, window=60)
    assert [call_from("203.0.113.7", "/rankings/industries")[0] for _ in range(3)] == [200, 200, 200]
    status, body, headers = call_from("203.0.113.7", "/rankings/industries")
    assert (status, body["code"]) == (429, "TOO_MANY_REQUESTS")
    assert set(body) == {"status", "code", "message"}
    assert 55 <= int(headers["Retry-After"]) <= 60
    assert call_from("203.0.113.8", "/rankings/industries")[0] == 200  # other clients are not affected
    assert call_from("203.0.113.7", "/health")[0] != 429  # health is never limited (200, or 503 naming a part)


def test_retry_after_is_when_requests_are_accepted_again(limit):
    cache.client().delete(keys.rate_limit("ip:203.0.113.9"))
    limit(1, window=2)
    assert call_from("203.0.113.9", "/rankings/industries")[0] == 200
    status, _, headers = call_from("203.0.113.9", "/rankings/industries")
    refused_at = time.monotonic()
    retry_after = int(headers["Retry-After"])
    assert status == 429 and 1 <= retry_after <= 2
    wait_for(
        lambda: call_from("203.0.113.9", "/rankings/industries")[0] == 200, retry_after + 1.5, "the window to reset"
    )
    assert time.monotonic() - refused_at >= retry_after - 1


def test_a_user_is_limited_as_a_user_not_by_ip(api, fast_bcrypt, limit):
    user = make_user(api)
    limit(2)
    auth = {"Authorization": f"Bearer {user.token}"}
    assert [call_from("198.51.100.1", "/users/favorites", auth)[0] for _ in range(2)] == [200, 200]
    assert call_from("198.51.100.2", "/users/favorites", auth)[0] == 429  # another IP, same user
    assert cache.client().zcard(keys.rate_limit(f"user:{user.user_id}")) == 2  # refused requests are not recorded


def test_the_limit_fails_open_when_redis_is_down(limit):
    from kstock_local.embedded import free_port

    limit(1)
    with environment(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        statuses = [call_from("192.0.2.1", "/indices/kospi")[0] for _ in range(2)]
    assert statuses == [200, 200]
