"""Which KIS a process talks to comes from its settings alone (issue 12): the core has no simulator fallback.

Without ``KIS_APP_KEY`` the core refuses to build a KIS client (:class:`MissingSetting` naming it); the
addresses are ``KIS_REST_URL`` / ``KIS_WS_URL`` or KIS's servers of ``KIS_ENV``. The laptop's placeholders
and the simulator's URLs come from ``kstock_local.kis_sim.credentials``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from kstock.config import MissingSetting, Settings
from kstock.kis import endpoints
from kstock.kis.auth import KisCredentials
from kstock.kis.errors import KisAuthError
from kstock_local.cli.invoke import invocation_environment
from kstock_local.kis_sim.credentials import (
    SIMULATOR_APP_KEY,
    SIMULATOR_APP_SECRET,
    has_real_key,
    simulator_environment,
)
from kstock_local.stack_state import StackState

CORE = Path(__file__).resolve().parents[2] / "layers/core/python/kstock"
REAL_LOOKING_KEY = "PS" + "x" * 34  # the shape of a real key; no real key is anywhere in the tests


def settings(**values: Any) -> Settings:
    """Settings with every KIS field given here (unset: None / real), whatever the session's environment."""
    base: dict[str, Any] = {"kis_app_key": None, "kis_app_secret": None, "kis_rest_url": None, "kis_ws_url": None}
    return Settings(**{**base, "kis_env": "real", **values})


# -- credentials ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "   "])
def test_without_an_app_key_the_core_raises_missing_setting_naming_it(key: str | None) -> None:
    configured = settings(kis_app_key=key, kis_app_secret="s" * 180)
    with pytest.raises(MissingSetting) as raised:
        KisCredentials.from_settings(configured)
    assert raised.value.name == "KIS_APP_KEY"
    assert "KIS_APP_KEY is not set" in str(raised.value)


def test_a_key_without_its_secret_is_refused() -> None:
    with pytest.raises(KisAuthError, match="KIS_APP_SECRET"):
        KisCredentials.from_settings(settings(kis_app_key=REAL_LOOKING_KEY))


def test_configured_credentials_are_used_as_given() -> None:
    made = KisCredentials.from_settings(settings(kis_app_key=REAL_LOOKING_KEY, kis_app_secret="s" * 180))
    assert (made.app_key, made.app_secret) == (REAL_LOOKING_KEY, "s" * 180)


def test_the_core_knows_no_simulator() -> None:
    words = ("SIMULATOR_APP_KEY", "SIMULATOR_APP_SECRET", "uses_simulator", "kis_unreachable", "SIM_REST_PORT")
    found = {
        str(path.relative_to(CORE)): [word for word in words if word in path.read_text(encoding="utf-8")]
        for path in CORE.rglob("*.py")
    }
    assert {path: hits for path, hits in found.items() if hits} == {}


# -- addresses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kis_env", "rest", "ws"),
    [
        ("real", "https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000/tryitout"),
        ("mock", "https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000/tryitout"),
    ],
)
def test_without_urls_the_addresses_follow_kis_env(kis_env: str, rest: str, ws: str) -> None:
    for key in (None, REAL_LOOKING_KEY):  # with or without a key: never a local default
        configured = settings(kis_env=kis_env, kis_app_key=key)
        assert (endpoints.rest_base_url(configured), endpoints.ws_url(configured)) == (rest, ws)


def test_configured_urls_win_and_a_ws_path_is_kept() -> None:
    configured = settings(kis_env="mock", kis_rest_url="http://proxy:8080/", kis_ws_url="ws://proxy:8081/custom")
    assert endpoints.rest_base_url(configured) == "http://proxy:8080"
    assert endpoints.ws_url(configured) == "ws://proxy:8081/custom"
    assert endpoints.ws_url(settings(kis_ws_url="ws://proxy:8081/")) == "ws://proxy:8081/tryitout"


# -- the laptop's side ---------------------------------------------------------------------------------------


def test_the_simulator_environment_is_complete_and_shaped_like_real_credentials() -> None:
    made = simulator_environment("http://127.0.0.1:1", "ws://127.0.0.1:2")
    assert made == {
        "KIS_APP_KEY": SIMULATOR_APP_KEY,
        "KIS_APP_SECRET": SIMULATOR_APP_SECRET,
        "KIS_REST_URL": "http://127.0.0.1:1",
        "KIS_WS_URL": "ws://127.0.0.1:2",
    }
    assert (len(SIMULATOR_APP_KEY), len(SIMULATOR_APP_SECRET)) == (36, 180)  # the lengths of real ones
    configured = settings(**{name.lower(): value for name, value in made.items()})
    credentials = KisCredentials.from_settings(configured)
    assert (credentials.app_key, endpoints.rest_base_url(configured)) == (SIMULATOR_APP_KEY, "http://127.0.0.1:1")


def test_only_a_users_own_key_is_a_real_key() -> None:
    assert has_real_key(settings(kis_app_key=REAL_LOOKING_KEY)) is True
    assert has_real_key(settings(kis_app_key=SIMULATOR_APP_KEY)) is False  # inherited from a laptop process
    assert has_real_key(settings(kis_app_key=None)) is False
    assert has_real_key(settings(kis_app_key=SecretStr(""))) is False  # an unfilled secret reference


def test_kstock_invoke_gives_the_simulators_placeholders_when_the_stack_runs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # stack.json publishes the simulator's URLs but, like every *_APP_KEY / *_SECRET, not its credentials
    running = StackState(
        1, {"DATABASE_URL": "postgresql://db", "KIS_REST_URL": "http://127.0.0.1:9", "KIS_WS_URL": "ws://127.0.0.1:8"}
    )
    monkeypatch.delenv("KIS_APP_KEY", raising=False)
    assert invocation_environment(running) == {
        "DATABASE_URL": "postgresql://db",
        **simulator_environment("http://127.0.0.1:9", "ws://127.0.0.1:8"),
    }
    monkeypatch.setenv("KIS_APP_KEY", REAL_LOOKING_KEY)  # this shell's own key: left to the function
    assert "KIS_APP_KEY" not in invocation_environment(running)
    assert invocation_environment(None) == {}
    # a stack on real KIS publishes no KIS_REST_URL: nothing to add
    assert invocation_environment(StackState(1, {"DATABASE_URL": "postgresql://db"})) == {
        "DATABASE_URL": "postgresql://db"
    }
