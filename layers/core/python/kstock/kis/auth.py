"""KIS credentials, the access token and the WebSocket approval key.

The access token (``POST /oauth2/tokenP``) lives a day and KIS lets an app key issue one at most
once a minute (403 EGW00133; every issue also pings the account holder on KakaoTalk, pykis #23),
so a token is cached in memory and in Redis until shortly before it expires, shared by every
process using the app key. A Redis guard key set for a minute after each issue enforces the
1-per-minute rule across processes; callers that find the guard set wait for the token the
issuer stores. The approval key (``POST /oauth2/Approval``, field ``secretkey``) is cached in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

import redis
import requests
from pydantic import SecretStr

from kstock import provenance
from kstock.config import MissingSetting, Settings, get_settings
from kstock.kis import deadline, endpoints
from kstock.kis.errors import KisAuthError, KisProtocolError, KisTokenIssueLimited, KisUnavailable
from kstock.kis.models import AccessToken
from kstock.market.calendar import KST

log = logging.getLogger("kstock.kis.auth")


@dataclass(frozen=True, slots=True)
class KisCredentials:
    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)

    @property
    def app_id(self) -> str:
        """A stable, non-secret name of the app key for Redis keys, logs and buckets."""
        return hashlib.sha256(self.app_key.encode()).hexdigest()[:16]

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> KisCredentials:
        """The configured app key and secret: the ``KIS_KEY_INDEX``-th pair of ``KIS_APP_KEYS`` when that
        is set, else ``KIS_APP_KEY`` / ``KIS_APP_SECRET``. Without a key this process cannot call KIS at
        all: a deployment error (:class:`MissingSetting`), never a silent fallback to some other server."""
        settings = settings or get_settings()
        pool = cls.pool_from_settings(settings)
        if pool:
            if settings.kis_key_index >= len(pool):
                raise KisAuthError(
                    f"KIS_KEY_INDEX is {settings.kis_key_index} but KIS_APP_KEYS holds {len(pool)} pair(s)"
                )
            return pool[settings.kis_key_index]
        key, secret = _secret(settings.kis_app_key), _secret(settings.kis_app_secret)
        if key is None:
            raise MissingSetting("KIS_APP_KEY", "kstock needs a KIS app key (and KIS_APP_SECRET) to call KIS")
        if secret is None:
            raise KisAuthError("KIS_APP_KEY is set but KIS_APP_SECRET is not")
        return cls(key, secret)

    @classmethod
    def pool_from_settings(cls, settings: Settings | None = None) -> list[KisCredentials]:
        """Every pair of ``KIS_APP_KEYS`` in order (empty when it is unset or blank)."""
        settings = settings or get_settings()
        text = _secret(settings.kis_app_keys)
        return parse_app_keys(text) if text is not None else []


def parse_app_keys(text: str) -> list[KisCredentials]:
    """``appkey:appsecret`` pairs separated by commas or newlines (KIS keys and secrets hold neither
    character, nor a colon). A malformed pair or a key given twice is a :class:`KisAuthError` naming its
    position, never its text (it is a secret)."""
    pairs: list[KisCredentials] = []
    items = [item.strip() for item in text.replace("\n", ",").split(",")]
    for position, item in enumerate((item for item in items if item), start=1):
        key, colon, secret = item.partition(":")
        if not colon or not key.strip() or not secret.strip():
            raise KisAuthError(f"KIS_APP_KEYS: pair {position} is not appkey:appsecret")
        pair = KisCredentials(key.strip(), secret.strip())
        if any(existing.app_key == pair.app_key for existing in pairs):
            raise KisAuthError(f"KIS_APP_KEYS: pair {position} repeats an app key (one session per key)")
        pairs.append(pair)
    return pairs


def _secret(value: SecretStr | None) -> str | None:
    """A configured secret's text; a blank one (an unfilled secret reference) counts as unset."""
    text = value.get_secret_value() if value is not None else ""
    return text if text.strip() else None


# -- token persistence ---------------------------------------------------------------------------


class TokenStore(Protocol):
    def load(self) -> AccessToken | None: ...
    def save(self, token: AccessToken) -> None: ...
    def discard(self, token: str) -> None: ...
    def claim_issue(self, interval: float) -> float:
        """Claim the right to issue now: 0.0 if granted, else seconds until it may be claimed."""
        ...


def _token_to_json(token: AccessToken) -> str:
    return json.dumps({"token": token.token, "type": token.token_type, "expires_at": token.expires_at.isoformat()})


def _token_from_json(text: str) -> AccessToken:
    data = json.loads(text)
    return AccessToken(data["token"], data["type"], datetime.fromisoformat(data["expires_at"]))


class MemoryTokenStore:
    """Process-local store (one per app key), used when Redis is unreachable."""

    _shared: dict[str, MemoryTokenStore] = {}
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self._token: AccessToken | None = None
        self._guard_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_app(cls, app_id: str) -> MemoryTokenStore:
        with cls._shared_lock:
            return cls._shared.setdefault(app_id, cls())

    def load(self) -> AccessToken | None:
        return self._token

    def save(self, token: AccessToken) -> None:
        self._token = token

    def discard(self, token: str) -> None:
        if self._token is not None and self._token.token == token:
            self._token = None

    def claim_issue(self, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            if now < self._guard_until:
                return self._guard_until - now
            self._guard_until = now + interval
            return 0.0


class RedisTokenStore:
    """Token JSON under ``kis:token:{app_id}`` (TTL = token lifetime) and the issue guard key."""

    def __init__(self, app_id: str, client: redis.Redis | None = None) -> None:
        from kstock import keys

        self._client = client
        self._key = keys.kis_token(app_id)
        self._guard = keys.kis_token_issue_guard(app_id)

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            from kstock import cache

            self._client = cache.client()
        return self._client

    def _text(self, key: str) -> str | None:
        # redis-py types every command as ``Awaitable | Any`` (one signature for the sync and async
        # clients); this sync client answers the decoded string itself.
        return cast(str | None, self.client.get(key))

    def load(self) -> AccessToken | None:
        text = self._text(self._key)
        return _token_from_json(text) if text else None

    def save(self, token: AccessToken) -> None:
        ttl = int((token.expires_at - datetime.now(UTC)).total_seconds())
        if ttl > 0:
            self.client.set(self._key, _token_to_json(token), ex=ttl)

    def discard(self, token: str) -> None:
        text = self._text(self._key)
        if text and _token_from_json(text).token == token:  # never drop a newer token another process stored
            self.client.delete(self._key)

    def claim_issue(self, interval: float) -> float:
        if self.client.set(self._guard, "1", nx=True, px=max(1, int(interval * 1000))):
            return 0.0
        remaining = cast(int, self.client.pttl(self._guard))  # a sync answer (see _text)
        return max(remaining, 1) / 1000 if remaining and remaining > 0 else 0.05


_T = TypeVar("_T")


class FallbackTokenStore:
    """Redis first; on a Redis failure, the process-local store (logged, never fatal)."""

    def __init__(self, primary: TokenStore, fallback: TokenStore) -> None:
        self._primary, self._fallback = primary, fallback

    def _call(self, use: Callable[[TokenStore], _T]) -> _T:
        try:
            return use(self._primary)
        except (redis.RedisError, OSError) as exc:
            log.warning("KIS token store: Redis unavailable (%s), using process memory", type(exc).__name__)
            return use(self._fallback)

    def load(self) -> AccessToken | None:
        return self._call(lambda store: store.load())

    def save(self, token: AccessToken) -> None:
        self._call(lambda store: store.save(token))
        self._fallback.save(token)

    def discard(self, token: str) -> None:
        self._call(lambda store: store.discard(token))
        self._fallback.discard(token)

    def claim_issue(self, interval: float) -> float:
        return self._call(lambda store: store.claim_issue(interval))


def default_store(app_id: str) -> TokenStore:
    return FallbackTokenStore(RedisTokenStore(app_id), MemoryTokenStore.for_app(app_id))


# -- the OAuth calls -----------------------------------------------------------------------------


def _oauth_error(response: requests.Response) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("error_code") or body.get("msg_cd")
    message = body.get("error_description") or body.get("msg1") or f"HTTP {response.status_code}"
    if code == "EGW00133":
        return KisTokenIssueLimited(message, code=code, status=response.status_code)
    if response.status_code >= 500 and code not in ("EGW00103", "EGW00105"):
        return KisUnavailable(message, code=code, status=response.status_code)
    return KisAuthError(message, code=code, status=response.status_code)


class KisAuth:
    """Access tokens and approval keys of one app key. Thread-safe."""

    def __init__(
        self,
        credentials: KisCredentials,
        rest_url: str,
        *,
        session: requests.Session | None = None,
        store: TokenStore | None = None,
        min_issue_interval: float = 60.0,
        max_issue_wait: float | None = None,
        expiry_margin: float = 300.0,
        timeout: float = 10.0,
        approval_ttl: float = 12 * 3600,
    ) -> None:
        self.credentials = credentials
        self.rest_url = rest_url.rstrip("/")
        self.session = session or requests.Session()
        self.store = store if store is not None else default_store(credentials.app_id)
        self.min_issue_interval = min_issue_interval
        self.max_issue_wait = max_issue_wait if max_issue_wait is not None else min_issue_interval + 5
        self.expiry_margin = timedelta(seconds=expiry_margin)
        self.timeout = timeout
        self.approval_ttl = approval_ttl
        self.tokens_issued = 0  # by this instance (tests and health)
        self._token: AccessToken | None = None
        self._approval: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._approval_lock = threading.Lock()

    # -- access token --------------------------------------------------------------------------

    def _usable(self, token: AccessToken | None) -> bool:
        return token is not None and token.expires_at - self.expiry_margin > datetime.now(UTC)

    def access_token(self) -> str:
        """A valid access token: memory, else Redis, else a new issue (at most one per interval)."""
        token = self._token
        if self._usable(token):
            return token.token  # type: ignore[union-attr]
        with self._lock:
            budget = deadline.remaining()  # an API request's KIS budget, if any, bounds the wait too
            wait_at_most = self.max_issue_wait if budget is None else max(0.0, min(self.max_issue_wait, budget))
            issue_deadline = time.monotonic() + wait_at_most
            while True:
                token = self._token if self._usable(self._token) else self.store.load()
                if self._usable(token):
                    self._token = token
                    return token.token  # type: ignore[union-attr]
                wait = self.store.claim_issue(self.min_issue_interval)
                if wait == 0.0:
                    try:
                        token = self._issue()
                    except KisTokenIssueLimited:
                        # Issued elsewhere without our guard (another machine): wait out the minute.
                        log.warning("KIS refused a token issue within a minute (EGW00133); waiting")
                        wait = self.min_issue_interval
                    else:
                        self.store.save(token)
                        self._token = token
                        return token.token
                now = time.monotonic()
                if now >= issue_deadline:
                    raise KisTokenIssueLimited(
                        "no KIS access token: one was issued less than a minute ago and none is cached", code="EGW00133"
                    )
                time.sleep(min(wait, 0.25, issue_deadline - now))  # poll: the issuer stores its token meanwhile

    def invalidate(self, token: str) -> None:
        """Drop a token KIS called expired (EGW00123) so the next call re-issues."""
        with self._lock:
            if self._token is not None and self._token.token == token:
                self._token = None
            self.store.discard(token)

    def _issue(self) -> AccessToken:
        body = {
            "grant_type": "client_credentials",
            "appkey": self.credentials.app_key,
            "appsecret": self.credentials.app_secret,
        }
        data = self._post(endpoints.TOKEN_PATH, body)
        try:
            token = str(data["access_token"])
            expires_in = int(data.get("expires_in") or 0)
            if expires_in > 0:
                expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
            else:
                expires_at = (
                    datetime.strptime(data["access_token_token_expired"], "%Y-%m-%d %H:%M:%S")
                    .replace(tzinfo=KST)
                    .astimezone(UTC)
                )
        except (KeyError, ValueError, TypeError) as exc:
            raise KisProtocolError(f"unexpected tokenP answer: {type(exc).__name__}") from exc
        self.tokens_issued += 1
        log.info("issued a KIS access token for app %s, expires %s", self.credentials.app_id, expires_at.isoformat())
        return AccessToken(token, str(data.get("token_type") or "Bearer"), expires_at)

    # -- approval key --------------------------------------------------------------------------

    def approval_key(self, fresh: bool = False) -> str:
        """The WebSocket approval key; ``fresh`` forces a new one (after OPSP0010/0011)."""
        with self._approval_lock:
            cached = self._approval
            if not fresh and cached is not None and time.monotonic() - cached[1] < self.approval_ttl:
                return cached[0]
            body = {
                "grant_type": "client_credentials",
                "appkey": self.credentials.app_key,
                "secretkey": self.credentials.app_secret,
            }  # `secretkey`, not `appsecret`
            data = self._post(endpoints.APPROVAL_PATH, body)
            key = data.get("approval_key")
            if not key:
                raise KisProtocolError("Approval answer without approval_key")
            self._approval = (str(key), time.monotonic())
            return str(key)

    def _post(self, path: str, body: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.session.post(
                self.rest_url + path,
                json=body,
                timeout=deadline.timeout(self.timeout, path),
                headers={"content-type": "application/json; charset=utf-8"},
            )
        except requests.RequestException as exc:
            raise KisUnavailable(f"KIS {path} unreachable: {type(exc).__name__}") from exc
        provenance.note_kis_answer(response.headers)
        if response.status_code != 200:
            raise _oauth_error(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise KisProtocolError(f"KIS {path} answered non-JSON") from exc
        if not isinstance(data, dict):
            raise KisProtocolError(f"KIS {path} answered unexpected JSON")
        if data.get("error_code"):
            raise _oauth_error(response)
        return data
