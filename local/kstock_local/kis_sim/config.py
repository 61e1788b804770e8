"""Simulator settings; every rule whose real value is a guess in docs/kis-protocol.md is a knob here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from kstock_local.settings import LocalSettings, get_local_settings

STATE_FILE_NAME = "kis-sim-market.json"  # under KSTOCK_HOME


def accept_any_non_empty(app_key: str, app_secret: str) -> bool:
    """Default credential check: any non-empty app key and secret (nobody here has real ones)."""
    return bool(app_key) and bool(app_secret)


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    rest_port: int = 9443  # 0 = any free port (tests)
    ws_port: int = 21000
    seed: int = 20250714
    always_open: bool = True  # trade at any hour (demo); False follows KRX hours
    trades_per_second: float = 200.0
    publish_interval: float = 0.05  # trades of one interval are batched into multi-record frames
    index_interval: float = 1.0
    rest_rate_per_second: int = 20  # per app key, 1-second window (real 20, mock 2) -> EGW00201
    token_issue_interval: float = 60.0  # a second tokenP within this -> 403 EGW00133
    token_lifetime: float = 86_400.0
    token_reuse_window: float = 6 * 3600.0  # re-issue (after the minute) within this returns the same token
    pingpong_interval: float = 30.0
    pong_timeout: float | None = None  # unanswered PINGPONG -> session dropped; None = one interval
    max_subscriptions: int = 41  # per session; the 42nd gets OPSP0008
    extra_fields: int = 0  # append unknown fields to every record (layout drift)
    accept_credentials: Callable[[str, str], bool] = field(default=accept_any_non_empty)
    history_days: int = 800  # calendar days of daily history (>= 2 years)
    surge_count: int = 3
    regime_seconds: float = 90.0
    elw_count: int = 7
    clock: Callable[[], datetime] | None = None
    universe: int | None = None  # trade only the first N companies of the data file (benchmarks)
    state_file: Path | None = None  # the market's day, kept across restarts (persist.py); None = not kept
    state_save_interval: float = 5.0

    @classmethod
    def from_settings(cls, settings: LocalSettings | None = None, **overrides: Any) -> SimulatorConfig:
        settings = settings or get_local_settings()
        values: dict[str, Any] = dict(
            host=settings.kis_sim_host,
            rest_port=settings.kis_sim_rest_port,
            ws_port=settings.kis_sim_ws_port,
            seed=settings.kis_sim_seed,
            always_open=settings.kis_sim_always_open,
            trades_per_second=settings.kis_sim_trades_per_second,
            pingpong_interval=settings.kis_sim_pingpong_interval,
            state_file=settings.kstock_home / STATE_FILE_NAME if settings.kis_sim_keep_state else None,
        )
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if k in known and v is not None})
        return cls(**values)
