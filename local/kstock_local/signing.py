"""The laptop's JWT signing key: ``JWT_SECRET`` when the shell sets one, else a random key created once
in ``KSTOCK_HOME/jwt_secret`` (mode 600) and shared by every local process.

`kstock up` hands it to its functions and the streamer as ``JWT_SECRET``, as AWS hands them the secret;
`kstock env --secrets` prints it. In AWS the key is always a secret: no process there writes a key file.
"""

from __future__ import annotations

import os
import secrets

from kstock_local.settings import LocalSettings, get_local_settings

KEY_FILE = "jwt_secret"


def local_signing_key(settings: LocalSettings | None = None) -> str:
    configured = os.environ.get("JWT_SECRET")
    if configured:
        return configured
    path = (settings or get_local_settings()).kstock_home / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)  # created owner-only before the key is written
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()
