"""Accounts: sign-up, log-in and log-out."""

from __future__ import annotations

import re

from psycopg import errors as pg_errors
from pydantic import Field, field_validator

from kstock import db
from kstock.auth import tokens
from kstock.config import get_settings
from kstock.errors import AlreadyExists, Unauthorized
from kstock.schemas import CamelModel
from kstock.users import passwords, throttle
from kstock.validation import BodyModel

# Pragmatic email check (one @, a dotted domain, no spaces): deliverability is not ours to prove.
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$"
_EMAIL = re.compile(EMAIL_PATTERN)
LOGIN_FAILED = "the email or the password is incorrect"


class SignupRequest(BodyModel):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, description="Login email (case-insensitive, unique).")
    username: str = Field(min_length=1, max_length=30, description="Display name.")
    password: str = Field(
        min_length=1,
        max_length=72,
        description="At least 8 characters with a letter, a digit and a special character (INVALID_PASSWORD).",
    )

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("username must not be blank")
        return value.strip()


class LoginRequest(BodyModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class SignupResult(CamelModel):
    user_id: int


class LoginResult(CamelModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


def signup(request: SignupRequest) -> SignupResult:
    """Create an account; ``ALREADY_EXISTS`` when the email is taken (case-insensitively)."""
    passwords.check_rule(request.password)
    password_hash = passwords.hash_password(request.password)
    try:
        with db.transaction() as conn:
            row = db.one_row(
                conn.execute(
                    "INSERT INTO users (email, username, password_hash) VALUES (%s, %s, %s) RETURNING id",
                    (request.email.strip(), request.username, password_hash),
                )
            )
    except pg_errors.UniqueViolation:
        raise AlreadyExists("an account with this email already exists") from None
    return SignupResult(user_id=row["id"])


def login(request: LoginRequest, source_ip: str | None = None) -> LoginResult:
    """A new access token; the same ``UNAUTHORIZED`` (after the same bcrypt work) for an unknown
    email and for a wrong password; ``TOO_MANY_REQUESTS`` while the account or the IP is backing
    off after failed logins (see :mod:`kstock.users.throttle`)."""
    email = request.email.strip()
    subjects = throttle.subjects(email, source_ip)
    throttle.check(subjects)
    row = None
    if _EMAIL.match(email):
        with db.read() as conn:
            row = conn.execute(
                "SELECT id, password_hash FROM users WHERE lower(email) = lower(%s)", (email,)
            ).fetchone()
    if not passwords.verify(request.password, row["password_hash"] if row else None) or row is None:
        throttle.record_failure(subjects)
        raise Unauthorized(LOGIN_FAILED)
    throttle.record_success(subjects)
    ttl = get_settings().jwt_ttl_seconds
    return LoginResult(access_token=tokens.issue(row["id"], ttl), expires_in=ttl)


def logout(token: str | None) -> tokens.Claims:
    """Revoke the presented token until it would have expired; its claims (whose sockets to close)."""
    claims = tokens.verify(token)
    tokens.revoke(claims)
    return claims
