"""The laptop's settings live in kstock_local, under the variable names the core used to read."""

from __future__ import annotations

import stat
from pathlib import Path

from support.envs import environment

from kstock.config import Settings, get_settings
from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.settings import get_local_settings
from kstock_local.signing import local_signing_key

LAPTOP_ONLY = {
    "embedded_redis_port",
    "kstock_api_host",
    "kstock_api_port",
    "kstock_ws_port",
    "moto_port",
    "kstock_log_aws",
    "kis_sim_seed",
    "kis_sim_trades_per_second",
    "kis_sim_always_open",
    "kis_sim_pingpong_interval",
    "naver_sim_port",
    "dart_sim_port",
    "localstack_host",
}


def test_the_core_settings_hold_no_laptop_only_setting():
    assert not LAPTOP_ONLY & set(Settings.model_fields)


def test_the_same_variables_configure_the_laptop():
    with environment(KSTOCK_API_PORT="3100", KIS_SIM_WS_PORT="21500", KIS_SIM_SEED="7", KSTOCK_LOG_AWS="1"):
        local = get_local_settings()
        assert (local.kstock_api_port, local.kis_sim_ws_port, local.kis_sim_seed) == (3100, 21500, 7)
        assert local.kstock_log_aws is True
        assert local.kis_sim_ws_url == "ws://127.0.0.1:21500"
        config = SimulatorConfig.from_settings(rest_port=0)
        assert (config.ws_port, config.seed, config.rest_port) == (21500, 7, 0)
        assert not hasattr(get_settings(), "kstock_api_port")
    assert get_local_settings().kstock_api_port == 3000  # restored on the way out


def test_the_local_signing_key_is_made_once_owner_only(tmp_path: Path):
    with environment(KSTOCK_HOME=str(tmp_path), JWT_SECRET=None):
        first = local_signing_key()
        assert local_signing_key() == first and len(first) >= 48
        key_file = tmp_path / "jwt_secret"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with environment(KSTOCK_HOME=str(tmp_path), JWT_SECRET="from-the-shell"):
        assert local_signing_key() == "from-the-shell"
