"""What a running ``kstock up`` publishes about itself (``KSTOCK_HOME/stack.json``), so that
``kstock env`` and ``kstock invoke`` in other shells reach the same services."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from kstock.config import get_settings


@dataclass
class StackState:
    pid: int
    environment: dict[str, str]     # the variables other tools need, exported by `kstock env`


def state_path() -> Path:
    return get_settings().kstock_home / "stack.json"


def write_state(environment: dict[str, str]) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(StackState(os.getpid(), environment)), indent=2))


def read_state() -> StackState | None:
    """The running stack's state, or None when no `kstock up` is running."""
    path = state_path()
    if not path.exists():
        return None
    state = StackState(**json.loads(path.read_text()))
    return state if psutil.pid_exists(state.pid) else None


def clear_state() -> None:
    state_path().unlink(missing_ok=True)
