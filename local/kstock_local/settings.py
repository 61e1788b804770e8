"""Settings only the laptop reads: where `kstock up` keeps its data, the ports of the local cloud,
moto and the simulators, and the KIS simulator's market.

The core's :class:`kstock.config.Settings` holds what Lambda and the streamer read; nothing here
ever reaches a deployed function. The environment variable names are the ones the core used to
read, so a developer's shell and `.env` keep working. Like the core's, the settings are read once
per process (:func:`get_local_settings`) and re-read on demand (:func:`reload_local_settings`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LocalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # -- the data directory and the embedded servers ------------------------------------------------
    kstock_home: Path = Field(Path(".kstock"), description="Directory for embedded server data (git-ignored).")
    embedded_redis_port: int = Field(
        6390, description="Loopback TCP port of the embedded Redis (0 = pick a free port)."
    )

    # -- the local cloud -----------------------------------------------------------------------------
    kstock_api_host: str = Field("127.0.0.1", description="Bind address of the local HTTP API.")
    kstock_api_port: int = Field(3000, description="Port of the local HTTP API.")
    kstock_ws_port: int = Field(3001, description="Port of the local WebSocket gateway.")
    moto_port: int = Field(4566, description="Port of the local moto server.")
    kstock_log_aws: bool = Field(False, description="Show the local AWS endpoint's (moto's) per-request access log.")
    localstack_host: str | None = Field(
        None,
        description="LocalStack's edge as host:port for `kstock up --localstack` (localstack-client's "
        "variable); unset -> localhost:4566.",
    )

    # -- the first `kstock up` ---------------------------------------------------------------------
    kstock_first_load_companies: int = Field(
        100,
        ge=0,
        description="Largest companies the first kstock up loads before it reports ready; the rest loads in "
        "the background.",
    )

    # -- the KIS simulator ---------------------------------------------------------------------------
    kis_sim_host: str = Field("127.0.0.1", description="Bind address of the local KIS simulator.")
    kis_sim_rest_port: int = Field(9443, description="KIS simulator REST port (plain HTTP).")
    kis_sim_ws_port: int = Field(21000, description="KIS simulator WebSocket port (plain WS).")
    kis_sim_seed: int = Field(20250714, description="Seed of the simulator's market (and the OpenDART stand-in's).")
    kis_sim_trades_per_second: float = Field(200.0, description="Simulator trade records/s across all symbols.")
    kis_sim_always_open: bool = Field(True, description="Simulator trades at any hour (demo mode of `make up`).")
    kis_sim_pingpong_interval: float = Field(30.0, description="Seconds between the simulator's PINGPONGs.")
    kis_sim_keep_state: bool = Field(
        True, description="The simulator keeps the day's market in KSTOCK_HOME, so a restart resumes it."
    )

    # -- the content stand-ins -----------------------------------------------------------------------
    naver_sim_port: int = Field(9080, description="Port of the local Naver news stand-in (`kstock up`, no Naver key).")
    dart_sim_port: int = Field(9081, description="Port of the local OpenDART stand-in (`kstock up`, no DART key).")

    @property
    def kis_sim_rest_url(self) -> str:
        return f"http://{self.kis_sim_host}:{self.kis_sim_rest_port}"

    @property
    def kis_sim_ws_url(self) -> str:
        return f"ws://{self.kis_sim_host}:{self.kis_sim_ws_port}"


@lru_cache(maxsize=1)
def get_local_settings() -> LocalSettings:
    """The process-wide laptop settings, read once from the environment."""
    return LocalSettings()


def reload_local_settings() -> LocalSettings:
    """Forget cached laptop settings (tests and ``kstock up`` change the environment)."""
    get_local_settings.cache_clear()
    return get_local_settings()
