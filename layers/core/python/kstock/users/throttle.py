"""Failed-login throttle per account and per IP, with exponential back-off (issue 17, finding 6).

Each failure is counted against the account (a digest of the email, so no address sits in
Redis) and against the source IP. Past the free failures, each further failure locks that
subject for ``base * 2**k`` seconds (capped); while locked, logins are refused with 429 and
``Retry-After`` *before* any password is checked, so a locked account costs no bcrypt work and
answers the same whether the password would have been right. Unknown emails are throttled like
real ones: the answer reveals nothing about which exist. A success clears the account's count
(not the IP's: one good password must not launder a spray of guesses).

The counts are Redis-only on purpose: losing them in a Redis restart forgets at most an hour of
back-off, and the limiter fails open when Redis is down (the login itself does not need Redis).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from kstock import cache, keys
from kstock.config import get_settings
from kstock.errors import TooManyRequests
from kstock.logs import get_logger

log = get_logger("kstock.users.throttle")


@dataclass(frozen=True)
class Subject:
    scope: str  # "account" or "ip"
    ident: str
    free_failures: int

    @property
    def key(self) -> str:
        return keys.login_failures(self.scope, self.ident)


def subjects(email: str, source_ip: str | None) -> list[Subject]:
    settings = get_settings()
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]
    found = [Subject("account", digest, settings.login_free_failures)]
    if source_ip:
        found.append(Subject("ip", source_ip, settings.login_ip_free_failures))
    return found


def lock_seconds(failures: int, free_failures: int) -> int:
    """0 up to the free failures, then base, 2 x base, 4 x base ... up to the maximum."""
    settings = get_settings()
    over = failures - free_failures
    if over <= 0:
        return 0
    exponent = min(over - 1, 30)  # 2**30 seconds is past any sane maximum already
    return int(min(settings.login_backoff_max_seconds, settings.login_backoff_base_seconds * 2**exponent))


def check(found: list[Subject], now: float | None = None) -> None:
    """Refuse with ``TOO_MANY_REQUESTS`` while any subject is locked."""
    now = time.time() if now is None else now
    try:
        pipe = cache.client().pipeline(transaction=False)
        for subject in found:
            pipe.hget(subject.key, "lockedUntil")
        locks = pipe.execute()
    except RedisError as exc:
        log.warning("login throttle unavailable", extra={"error": type(exc).__name__})
        return
    until = max((float(lock) for lock in locks if lock), default=0.0)
    if until > now:
        retry_after = max(1, math.ceil(until - now))
        raise TooManyRequests(f"too many failed logins: try again in {retry_after} s", retry_after=retry_after)


def record_failure(found: list[Subject], now: float | None = None) -> None:
    """Count a failed login against every subject and lock those past their free failures."""
    now = time.time() if now is None else now
    memory = get_settings().login_failure_memory_seconds
    try:
        client = cache.client()
        for subject in found:
            pipe = client.pipeline(transaction=True)
            pipe.hincrby(subject.key, "failures", 1)
            pipe.expire(subject.key, memory)
            failures = int(pipe.execute()[0])
            locked_for = lock_seconds(failures, subject.free_failures)
            if locked_for:
                client.hset(subject.key, "lockedUntil", f"{now + locked_for:.3f}")
                client.expire(subject.key, max(memory, locked_for + 1))
    except RedisError as exc:
        log.warning("login throttle unavailable", extra={"error": type(exc).__name__})


def record_success(found: list[Subject]) -> None:
    """A correct password clears the account's failures (the IP's stay)."""
    try:
        accounts = [subject.key for subject in found if subject.scope == "account"]
        if accounts:
            cache.client().delete(*accounts)
    except RedisError as exc:
        log.warning("login throttle unavailable", extra={"error": type(exc).__name__})
