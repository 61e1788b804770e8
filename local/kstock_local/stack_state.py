"""What a running ``kstock up`` publishes about itself (``KSTOCK_HOME/stack.json``), so that
``kstock env`` and ``kstock invoke`` in other shells reach the same services."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from kstock_local.settings import get_local_settings


@dataclass
class StackState:
    pid: int
    environment: dict[str, str]  # the variables other tools need, exported by `kstock env`


def state_path() -> Path:
    return get_local_settings().kstock_home / "stack.json"


# Variables never written to stack.json (issue 17, finding 9: the JWT key sat there, mode 0644).
# Tools that need them get them from where they live (the key file, the shell): secrets().
SECRET_SUFFIXES = ("_SECRET", "_API_KEY", "_APP_KEY", "_SECRET_ACCESS_KEY", "_SESSION_TOKEN", "_PASSWORD")


def is_secret(name: str, value: str) -> bool:
    from kstock_local.cli.content import DART_STAND_IN_KEY  # the stand-ins' placeholder keys guard nothing
    from kstock_local.kis_sim.credentials import SIMULATOR_APP_KEY, SIMULATOR_APP_SECRET

    placeholders = (DART_STAND_IN_KEY, SIMULATOR_APP_KEY, SIMULATOR_APP_SECRET)
    return name.upper().endswith(SECRET_SUFFIXES) and value not in placeholders


def write_state(environment: dict[str, str]) -> None:
    """Publish the stack's environment without its secrets, readable by its owner only (a URL
    may still carry a password)."""
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    public = {name: value for name, value in environment.items() if not is_secret(name, value)}
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    # created 0600 before anything is written: no moment where another user could read it
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(asdict(StackState(os.getpid(), public)), indent=2))
    os.chmod(partial, 0o600)  # O_CREAT's mode does not apply to a file left by a crashed run
    os.replace(partial, path)


def secrets() -> dict[str, str]:
    """The secrets a shell needs to act as the stack's functions (``kstock env --secrets``)."""
    from kstock_local.signing import local_signing_key

    return {"JWT_SECRET": local_signing_key()}


def read_state() -> StackState | None:
    """The running stack's state, or None when no `kstock up` is running."""
    path = state_path()
    if not path.exists():
        return None
    state = StackState(**json.loads(path.read_text()))
    return state if psutil.pid_exists(state.pid) else None


def clear_state() -> None:
    state_path().unlink(missing_ok=True)
