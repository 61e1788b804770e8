"""Access tokens: HS256 JWTs with an expiry and a unique id (``jti``), revocable until they expire.

The signing key is ``JWT_SECRET`` (from Secrets Manager in AWS; on a laptop `kstock up` passes the key
``kstock_local.signing`` keeps in ``KSTOCK_HOME``). Unset, issuing or checking a token is a configuration
error (:class:`MissingSetting`), never a key file written by a Lambda.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from kstock.auth import revocations
from kstock.config import MissingSetting, get_settings
from kstock.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "kstock"


@dataclass(frozen=True)
class Claims:
    user_id: int
    token_id: str
    expires_at: int


def signing_key() -> str:
    secret = get_settings().jwt_secret
    if secret is None:
        raise MissingSetting("JWT_SECRET", "the signing key of access tokens")
    return secret.get_secret_value()


def issue(user_id: int, ttl_seconds: int | None = None) -> str:
    now = int(time.time())
    ttl = ttl_seconds or get_settings().jwt_ttl_seconds
    payload = {"sub": str(user_id), "jti": uuid.uuid4().hex, "iat": now, "exp": now + ttl, "iss": ISSUER}
    return jwt.encode(payload, signing_key(), algorithm=ALGORITHM)


def decode(token: str | None) -> Claims:
    """The claims of a well-signed, unexpired token (revocation not checked: no Redis);
    :class:`Unauthorized` otherwise."""
    if not token:
        raise Unauthorized("a token is required")
    try:
        payload = jwt.decode(
            token,
            signing_key(),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "jti", "sub", "iss"]},
        )
        return Claims(int(payload["sub"]), str(payload["jti"]), int(payload["exp"]))
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise Unauthorized("the token is invalid") from None


def verify(token: str | None) -> Claims:
    """The claims of a valid, unexpired, unrevoked token; :class:`Unauthorized` otherwise."""
    claims = decode(token)
    if revocations.is_revoked(claims.token_id, claims.expires_at):
        raise Unauthorized("the token has been revoked")
    return claims


def revoke(claims: Claims) -> None:
    """Refuse this token from now until it would have expired anyway (durably: Postgres)."""
    revocations.revoke(claims.token_id, claims.user_id, claims.expires_at)


def bearer(header_value: str | None) -> str | None:
    """``"Bearer abc"`` -> ``"abc"``."""
    if not header_value:
        return None
    scheme, _, token = header_value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
