"""The REST skeleton: health, the error envelope, company search — through real proxy events."""

import json

import pytest

from kstock_local.cloud.gateway.http_api import build_proxy_event
from kstock_local.cloud.lambdas.runtime import LambdaContext, load_handler


def test_health_reports_versions_and_embedded_services(api):
    from test_health import report_streamer

    report_streamer()
    status, body, _ = api("GET", "/health")
    assert status == 200
    data = body["data"]
    assert data["status"] == "ok"
    assert data["postgres"]["ok"] and data["postgres"]["version"].startswith("16")
    assert data["redis"]["ok"] and data["redis"]["version"].count(".") == 2
    assert data["postgres"]["kind"] == data["redis"]["kind"] == "embedded"
    assert data["environment"] == "test"


def test_health_is_degraded_not_500_when_redis_is_down(api, monkeypatch):
    from kstock.config import reload_settings
    from kstock_local.embedded import free_port

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    reload_settings()
    try:
        status, body, _ = api("GET", "/health")
    finally:
        monkeypatch.undo()
        reload_settings()
    assert status == 503
    assert body["data"]["redis"]["ok"] is False and body["data"]["postgres"]["ok"] is True
    assert "redis://" not in json.dumps(body)  # no URL (or secret) leaks into the answer


def test_unknown_route_is_a_404_envelope(api):
    status, body, _ = api("GET", "/no/such/route")
    assert status == 404
    assert body == {"status": 404, "code": "NOT_FOUND", "message": "no route for /no/such/route"}


def test_wrong_method_is_refused_with_an_envelope(api):
    status, body, _ = api("DELETE", "/health")
    assert status == 405 and body["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    ("keyword", "first"),
    [
        ("삼성", "삼성전자"),
        ("005930", "삼성전자"),
        ("sk하이닉스", "SK하이닉스"),
    ],
)
def test_company_search_finds_by_korean_name_and_code(api, keyword, first):
    status, body, headers = api("GET", "/companies", query={"keyword": keyword})
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert body["data"][0]["name"] == first
    assert set(body["data"][0]) == {"companyId", "name", "symbol", "market", "logo"}


def test_search_for_samsung_finds_several_companies_exact_prefix_first(api):
    _, body, _ = api("GET", "/companies", query={"keyword": "삼성"})
    names = [c["name"] for c in body["data"]]
    assert len(names) >= 5 and all("삼성" in n for n in names)
    assert names[0] == "삼성전자"


def test_search_ranks_exact_code_before_name_matches(api):
    _, body, _ = api("GET", "/companies", query={"keyword": "000660"})
    assert body["data"][0]["symbol"] == "000660"


def test_search_escapes_like_wildcards(api):
    _, body, _ = api("GET", "/companies", query={"keyword": "%"})
    assert body["data"] == []


def test_search_without_keyword_is_missing_field(api):
    status, body, _ = api("GET", "/companies")
    assert (status, body["code"]) == (400, "MISSING_FIELD")


@pytest.mark.parametrize("query", [{"page": "0"}, {"size": "1000"}, {"size": "x"}])
def test_search_pagination_bounds(api, query):
    status, body, _ = api("GET", "/companies", query={"keyword": "삼성", **query})
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


def test_search_pages_do_not_overlap(api):
    _, first, _ = api("GET", "/companies", query={"keyword": "삼성", "size": "2", "page": "1"})
    _, second, _ = api("GET", "/companies", query={"keyword": "삼성", "size": "2", "page": "2"})
    assert len(first["data"]) == len(second["data"]) == 2
    assert not {c["symbol"] for c in first["data"]} & {c["symbol"] for c in second["data"]}


@pytest.fixture(scope="module")
def probe_app(database):
    """A tiny app on the same plumbing, with routes that misbehave on purpose."""
    load_handler("app.app")  # puts functions/ on sys.path
    from chalicelib.web import KstockChalice, json_body, ok

    app = KstockChalice("probe")

    @app.route("/echo", methods=["POST"])
    def echo():
        return ok(json_body(app.current_request), "echo")

    @app.route("/boom", methods=["GET"])
    def boom():
        raise RuntimeError("secret internal detail")

    def call(method, path, body=b""):
        event = build_proxy_event(method, path, [], [("Content-Type", "application/json")], body, "127.0.0.1", "x")
        result = app(event, LambdaContext())
        return result["statusCode"], json.loads(result["body"])

    return call


def test_malformed_json_is_invalid_request(probe_app):
    status, body = probe_app("POST", "/echo", b'{"email": ')
    assert (status, body["code"]) == (400, "INVALID_REQUEST")
    assert "malformed JSON" in body["message"]


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b"\xff\xfe"])
def test_bodies_that_are_not_json_objects_are_refused(probe_app, raw):
    status, body = probe_app("POST", "/echo", raw)
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


def test_valid_json_passes(probe_app):
    assert probe_app("POST", "/echo", '{"이름": "삼성"}'.encode()) == (
        200,
        {"status": 200, "message": "echo", "data": {"이름": "삼성"}},
    )


def test_unexpected_error_is_a_500_envelope_without_details(probe_app, caplog):
    status, body = probe_app("GET", "/boom")
    assert status == 500
    assert body == {"status": 500, "code": "INTERNAL_ERROR", "message": "an internal error occurred"}
    # the stack goes to the log, not to the client
    assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records)
