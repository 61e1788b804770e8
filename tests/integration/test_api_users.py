"""/users: sign-up, log-in/out, favorites — through real API Gateway proxy events."""

from __future__ import annotations

import json
import statistics
import time

import pytest
from support.envs import environment
from support.users import PASSWORD, new_email

JSON = {"Content-Type": "application/json"}


def post(api, path, payload, headers=None):
    return api("POST", path, body=json.dumps(payload), headers={**JSON, **(headers or {})})


def test_signup_answers_201_with_the_user_id_on_top_and_in_data(api, fast_bcrypt):
    status, body, _ = post(api, "/users/signup", {"email": new_email(), "username": "kim", "password": PASSWORD})
    assert status == 201
    assert body["status"] == 201 and body["message"]
    assert isinstance(body["userId"], int) and body["data"] == {"userId": body["userId"]}


@pytest.mark.parametrize(
    "password", ["short1!", "noDigitsHere!", "12345678!", "NoSpecial123", "한글비밀번호1234", "a1!" + "가" * 30]
)
def test_passwords_breaking_the_rule_are_invalid_password(api, fast_bcrypt, password):
    status, body, _ = post(api, "/users/signup", {"email": new_email(), "username": "kim", "password": password})
    assert (status, body["code"]) == (400, "INVALID_PASSWORD"), body


def test_a_korean_password_with_letter_digit_and_special_is_accepted(api, fast_bcrypt):
    email = new_email()
    assert post(api, "/users/signup", {"email": email, "username": "kim", "password": "비밀번호1234!"})[0] == 201
    assert post(api, "/users/login", {"email": email, "password": "비밀번호1234!"})[0] == 200


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"username": "kim", "password": PASSWORD}, "MISSING_FIELD"),
        ({"email": "x@example.com", "password": PASSWORD}, "MISSING_FIELD"),
        ({"email": "not-an-email", "username": "kim", "password": PASSWORD}, "INVALID_REQUEST"),
        ({"email": "a@b", "username": "kim", "password": PASSWORD}, "INVALID_REQUEST"),
        ({"email": 5, "username": "kim", "password": PASSWORD}, "INVALID_REQUEST"),
        ({"email": "x@example.com", "username": "   ", "password": PASSWORD}, "INVALID_REQUEST"),
        ({"email": "x\u0000@example.com", "username": "kim", "password": PASSWORD}, "INVALID_REQUEST"),
    ],
)
def test_signup_field_errors(api, fast_bcrypt, payload, code):
    status, body, _ = post(api, "/users/signup", payload)
    assert (status, body["code"]) == (400, code), body
    assert set(body) == {"status", "code", "message"}


def test_lone_surrogates_are_refused_not_a_500(api, fast_bcrypt):
    raw = '{"email": "a\\ud800@example.com", "username": "kim", "password": "Passw0rd!"}'
    status, body, _ = api("POST", "/users/signup", body=raw, headers=JSON)
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


def test_duplicate_email_is_already_exists_case_insensitively(api, fast_bcrypt):
    email = new_email()
    assert post(api, "/users/signup", {"email": email, "username": "a", "password": PASSWORD})[0] == 201
    status, body, _ = post(api, "/users/signup", {"email": email.upper(), "username": "b", "password": PASSWORD})
    assert (status, body["code"]) == (409, "ALREADY_EXISTS")


def test_login_gives_a_working_token_on_top_and_in_data(api, fast_bcrypt):
    email = new_email()
    post(api, "/users/signup", {"email": email, "username": "kim", "password": PASSWORD})
    status, body, _ = post(api, "/users/login", {"email": email.upper(), "password": PASSWORD})
    assert status == 200 and body["message"] == "로그인 성공"
    assert body["accessToken"] == body["data"]["accessToken"] and body["data"]["tokenType"] == "Bearer"
    assert body["data"]["expiresIn"] > 0
    status, _, _ = api("GET", "/users/favorites", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert status == 200


def test_a_72_byte_password_is_not_matched_by_a_longer_one(api, fast_bcrypt):
    """bcrypt reads 72 bytes: the 73rd byte and on must not be ignored at login."""
    email, password = new_email(), "Aa1!" + "x" * 68
    assert post(api, "/users/signup", {"email": email, "username": "long", "password": password})[0] == 201
    assert post(api, "/users/login", {"email": email, "password": password})[0] == 200
    status, body, _ = post(api, "/users/login", {"email": email, "password": password + "anything"})
    assert (status, body["code"]) == (401, "UNAUTHORIZED")


def test_unknown_email_and_wrong_password_get_the_same_answer(api, fast_bcrypt):
    email = new_email()
    post(api, "/users/signup", {"email": email, "username": "kim", "password": PASSWORD})
    unknown = post(api, "/users/login", {"email": new_email(), "password": PASSWORD})
    wrong = post(api, "/users/login", {"email": email, "password": PASSWORD + "x"})
    malformed = post(api, "/users/login", {"email": "nobody", "password": PASSWORD})
    assert unknown[0] == wrong[0] == malformed[0] == 401
    assert unknown[1] == wrong[1] == malformed[1]
    assert unknown[1]["code"] == "UNAUTHORIZED"


def test_unknown_email_and_wrong_password_take_the_same_time(api):
    """Both check a bcrypt hash of the configured cost (a dummy one for an unknown email)."""
    with environment(BCRYPT_ROUNDS="10"):  # ~50 ms a check: differences would stand out
        email = new_email()
        post(api, "/users/signup", {"email": email, "username": "kim", "password": PASSWORD})

        def timed(login_email):
            started = time.perf_counter()
            assert post(api, "/users/login", {"email": login_email, "password": "Wr0ng-pass!"})[0] == 401
            return time.perf_counter() - started

        post(api, "/users/login", {"email": new_email(), "password": "warm-up1!"})  # dummy hash built once
        unknown = statistics.median(timed(new_email()) for _ in range(5))
        wrong = statistics.median(timed(email) for _ in range(5))
    assert unknown > 0.02 and wrong > 0.02  # both did the bcrypt work
    assert abs(unknown - wrong) < 0.5 * max(unknown, wrong), (unknown, wrong)


def test_logout_revokes_the_token(api, user):
    assert api("POST", "/users/logout", headers=user.headers)[0] == 200
    status, body, _ = api("GET", "/users/favorites", headers=user.headers)
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert api("POST", "/users/logout", headers=user.headers)[0] == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/users/logout"),
        ("GET", "/users/favorites"),
        ("POST", "/users/favorites"),
        ("DELETE", "/users/favorites/1"),
        ("GET", "/users/portfolio"),
        ("POST", "/users/portfolio"),
        ("DELETE", "/users/portfolio/1"),
        ("DELETE", "/users/portfolio"),
        ("GET", "/comparisons"),
        ("POST", "/comparisons"),
        ("GET", "/comparisons/1"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
def test_routes_needing_a_user_refuse_without_a_valid_token(api, method, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    status, body, _ = api(method, path, body="{}", headers={**JSON, **headers})
    assert (status, body["code"]) == (401, "UNAUTHORIZED")


def test_favorites_add_list_delete(api, user, database):
    from support.users import company_id

    samsung, hynix = company_id(database, "005930"), company_id(database, "000660")
    status, body, _ = post(api, "/users/favorites", {"companyId": samsung}, user.headers)
    assert status == 201 and body["data"]["symbol"] == "005930" and body["data"]["name"] == "삼성전자"
    first = body["data"]["favoriteId"]
    post(api, "/users/favorites", {"companyId": hynix}, user.headers)
    _, body, _ = api("GET", "/users/favorites", headers=user.headers)
    assert [f["symbol"] for f in body["data"]] == ["000660", "005930"]  # newest first
    assert set(body["data"][0]) == {"favoriteId", "companyId", "name", "symbol", "market", "logo", "createdAt"}
    status, body, _ = post(api, "/users/favorites", {"companyId": samsung}, user.headers)
    assert (status, body["code"]) == (409, "ALREADY_EXISTS")
    assert api("DELETE", f"/users/favorites/{first}", headers=user.headers)[0] == 200
    _, body, _ = api("GET", "/users/favorites", headers=user.headers)
    assert [f["symbol"] for f in body["data"]] == ["000660"]
    assert api("DELETE", f"/users/favorites/{first}", headers=user.headers)[1]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"companyId": 999_999}, 404, "NOT_FOUND"),
        ({"companyId": "1"}, 400, "INVALID_REQUEST"),
        ({"companyId": True}, 400, "INVALID_REQUEST"),
        ({"companyId": 0}, 400, "INVALID_REQUEST"),
        ({"companyId": 10**20}, 400, "INVALID_REQUEST"),
        ({}, 400, "MISSING_FIELD"),
    ],
)
def test_favorite_errors(api, user, payload, status, code):
    answer, body, _ = post(api, "/users/favorites", payload, user.headers)
    assert (answer, body["code"]) == (status, code), body


def test_another_users_favorites_are_invisible_and_undeletable(api, user, other_user, database):
    from support.users import company_id

    _, body, _ = post(api, "/users/favorites", {"companyId": company_id(database, "005930")}, user.headers)
    favorite = body["data"]["favoriteId"]
    assert api("GET", "/users/favorites", headers=other_user.headers)[1]["data"] == []
    status, body, _ = api("DELETE", f"/users/favorites/{favorite}", headers=other_user.headers)
    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert len(api("GET", "/users/favorites", headers=user.headers)[1]["data"]) == 1


@pytest.mark.parametrize("favorite", ["abc", "-1", "0", "1.5", "99999999999999999999"])
def test_bad_favorite_ids_are_invalid_request(api, user, favorite):
    status, body, _ = api("DELETE", f"/users/favorites/{favorite}", headers=user.headers)
    assert (status, body["code"]) == (400, "INVALID_REQUEST")


def test_favorites_pagination(api, user, database):
    from support.users import company_id

    for symbol in ("005930", "000660", "035420"):
        post(api, "/users/favorites", {"companyId": company_id(database, symbol)}, user.headers)
    first = api("GET", "/users/favorites", query={"size": "2"}, headers=user.headers)[1]["data"]
    second = api("GET", "/users/favorites", query={"size": "2", "page": "2"}, headers=user.headers)[1]["data"]
    assert len(first) == 2 and len(second) == 1
    for bad in ({"size": "101"}, {"size": "0"}, {"page": "0"}, {"page": "x"}):
        status, body, _ = api("GET", "/users/favorites", query=bad, headers=user.headers)
        assert (status, body["code"]) == (400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    "raw",
    ["[" * 50_000 + "]" * 50_000, '{"companyId": ' + "9" * 5000 + "}", '{"companyId": 1e400}', '{"companyId": NaN}'],
)
def test_pathological_json_is_invalid_request(api, user, raw):
    status, body, _ = api("POST", "/users/favorites", body=raw, headers=user.headers)
    assert (status, body["code"]) == (400, "INVALID_REQUEST")
