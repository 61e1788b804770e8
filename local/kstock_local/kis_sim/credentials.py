"""What a kstock process needs to talk to the local KIS simulator instead of KIS: placeholder credentials
and the simulator's URLs.

The core has no notion of a simulator. Its KIS client needs ``KIS_APP_KEY`` / ``KIS_APP_SECRET`` and takes
its addresses from ``KIS_REST_URL`` / ``KIS_WS_URL`` (else from ``KIS_ENV``), as in AWS. On a laptop without
a real key, the processes the laptop starts (``kstock up``'s functions and streamer, the benchmarks, the
tests' session) get the environment :func:`simulator_environment` builds, the way a deployment gives
Lambda its secrets. The simulator accepts any non-empty key; these placeholders have the lengths of real
ones (36 and 180 characters), so requests are shaped like production's.
"""

from __future__ import annotations

from kstock.config import Settings

# Not secrets: the simulator accepts any key, and nothing else accepts these.
SIMULATOR_APP_KEY = "PSkstockSIMULATORappKEY0000000000000"
SIMULATOR_APP_SECRET = "kstock-simulator-secret-" + "0" * 156


def simulator_environment(rest_url: str, ws_url: str) -> dict[str, str]:
    """The KIS settings that point a process at the simulator serving ``rest_url`` and ``ws_url``."""
    return {
        "KIS_APP_KEY": SIMULATOR_APP_KEY,
        "KIS_APP_SECRET": SIMULATOR_APP_SECRET,
        "KIS_REST_URL": rest_url,
        "KIS_WS_URL": ws_url,
    }


def has_real_key(settings: Settings) -> bool:
    """The user configured a KIS app key of their own (the placeholder of an inherited environment is not one)."""
    key = settings.kis_app_key
    return key is not None and key.get_secret_value() not in ("", SIMULATOR_APP_KEY)
