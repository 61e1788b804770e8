"""The password rule of the PRD and bcrypt hashing.

Rule: at least 8 characters with a letter, a digit and a special character. bcrypt reads at most
72 bytes of a password (bcrypt 5 refuses longer ones), so a password is also at most 72 bytes in
UTF-8: a longer one would otherwise be silently truncated.
"""

from __future__ import annotations

import functools

import bcrypt

from kstock.config import get_settings
from kstock.errors import InvalidPassword

MIN_LENGTH = 8
MAX_BYTES = 72
RULE = "a password needs at least 8 characters with a letter, a digit and a special character (at most 72 bytes)"


def check_rule(password: str) -> None:
    """Raise :class:`InvalidPassword` unless ``password`` follows the rule."""
    if (
        len(password) < MIN_LENGTH
        or len(password.encode("utf-8")) > MAX_BYTES
        or not any(c.isalpha() for c in password)
        or not any(c.isdigit() for c in password)
        or not any(not c.isalnum() and not c.isspace() for c in password)
    ):
        raise InvalidPassword(RULE)


def hash_password(password: str) -> str:
    rounds = get_settings().bcrypt_rounds
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"not-a-real-password-1!", bcrypt.gensalt(rounds))


def verify(password: str, stored_hash: str | None) -> bool:
    """Whether ``password`` matches ``stored_hash``.

    With no stored hash (unknown email) a dummy hash of the configured cost is checked instead,
    so an unknown email takes as long as a wrong password and the answer reveals nothing.
    """
    candidate = password.encode("utf-8")
    # bcrypt reads only 72 bytes: a longer candidate would match any stored password it starts
    # with. Sign-up refuses such passwords, so a longer one is wrong (checked, for equal timing).
    if stored_hash is None or len(candidate) > MAX_BYTES:
        bcrypt.checkpw(candidate[:MAX_BYTES], _dummy_hash(get_settings().bcrypt_rounds))
        return False
    try:
        return bcrypt.checkpw(candidate, stored_hash.encode("ascii"))
    except ValueError:  # a corrupt stored hash never matches
        return False
