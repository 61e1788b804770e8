"""Issue 17, finding 9: the local stack's state file held the JWT signing key, mode 0644, and
``kstock env`` printed it."""

from __future__ import annotations

import json
import stat

import pytest
from support.envs import environment

from kstock_local.cli import main as cli
from kstock_local.cli.content import DART_STAND_IN_KEY
from kstock_local.stack_state import read_state, state_path, write_state

STACK_ENV = {
    "DATABASE_URL": "postgresql://127.0.0.1/kstock",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "JWT_SECRET": "signing-key-that-must-not-leak",
    "KIS_APP_SECRET": "kis-secret-that-must-not-leak",
    "DART_API_KEY": DART_STAND_IN_KEY,
    "KSTOCK_API_URL": "http://127.0.0.1:3000",
}


@pytest.fixture
def home(tmp_path):
    with environment(KSTOCK_HOME=str(tmp_path), JWT_SECRET="signing-key-that-must-not-leak"):
        yield tmp_path


def test_the_state_file_holds_no_secret_and_only_its_owner_reads_it(home):
    state_path().write_text("{}")
    state_path().chmod(0o644)  # left by an earlier run
    write_state(STACK_ENV)
    raw = state_path().read_text()
    assert "must-not-leak" not in raw
    assert stat.S_IMODE(state_path().stat().st_mode) == 0o600
    stored = json.loads(raw)["environment"]
    assert stored["DATABASE_URL"] == STACK_ENV["DATABASE_URL"]
    assert stored["DART_API_KEY"] == DART_STAND_IN_KEY  # a placeholder, not a secret: content CLIs need it
    assert set(stored) == set(STACK_ENV) - {"JWT_SECRET", "KIS_APP_SECRET"}
    assert read_state() is not None


def test_kstock_env_prints_the_signing_key_only_with_secrets(home, capsys):
    write_state(STACK_ENV)
    assert cli.main(["env"]) == 0
    plain = capsys.readouterr().out
    assert "export KSTOCK_API_URL=http://127.0.0.1:3000" in plain
    assert "JWT_SECRET" not in plain and "must-not-leak" not in plain
    assert cli.main(["env", "--secrets"]) == 0
    assert "export JWT_SECRET=signing-key-that-must-not-leak" in capsys.readouterr().out
