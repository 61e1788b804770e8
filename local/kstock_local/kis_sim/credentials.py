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


def simulator_key_pair(index: int) -> tuple[str, str]:
    """The ``index``-th placeholder app key and secret (0 is SIMULATOR_APP_KEY / SECRET), real lengths."""
    return f"{SIMULATOR_APP_KEY[:23]}{index:013d}", f"kstock-simulator-secret-{index:0156d}"


def simulator_environment(rest_url: str, ws_url: str, keys: int = 1) -> dict[str, str]:
    """The KIS settings that point a process at the simulator serving ``rest_url`` and ``ws_url``; with
    ``keys`` > 1 also ``KIS_APP_KEYS``, that many placeholder pairs (one ingest streamer per key, each
    given its ``KIS_KEY_INDEX``; the first pair is KIS_APP_KEY / KIS_APP_SECRET)."""
    environment = {
        "KIS_APP_KEY": SIMULATOR_APP_KEY,
        "KIS_APP_SECRET": SIMULATOR_APP_SECRET,
        "KIS_REST_URL": rest_url,
        "KIS_WS_URL": ws_url,
    }
    if keys > 1:
        environment["KIS_APP_KEYS"] = ",".join(":".join(simulator_key_pair(i)) for i in range(keys))
    return environment


def has_real_key(settings: Settings) -> bool:
    """The user configured a KIS app key of their own (the placeholders of an inherited environment are not)."""
    key = settings.kis_app_key
    if key is not None and key.get_secret_value() not in ("", SIMULATOR_APP_KEY):
        return True
    pairs = settings.kis_app_keys.get_secret_value() if settings.kis_app_keys is not None else ""
    return bool(pairs.strip()) and not pairs.strip().startswith(SIMULATOR_APP_KEY[:23])
