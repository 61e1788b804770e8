"""A `kstock up` as a fresh machine would start it: only PATH, HOME and a locale, and a free port for each
port the stack opens, so it runs beside another stack (a developer's, a parallel `make test`).

The first-run e2e test, the chaos suite (`kstock chaos`) and the start-up bench (`kstock bench startup`) start
their stacks this way; the test's name for it was `env -i`."""

from __future__ import annotations

from pathlib import Path

from kstock_local.embedded import free_port

# Every port `kstock up` opens, by its setting (STREAMER_HEALTH_PORT is the core's, the rest the laptop's).
STACK_PORT_VARIABLES = (
    "KSTOCK_API_PORT",
    "KSTOCK_WS_PORT",
    "MOTO_PORT",
    "EMBEDDED_REDIS_PORT",
    "KIS_SIM_REST_PORT",
    "KIS_SIM_WS_PORT",
    "STREAMER_HEALTH_PORT",
    "NAVER_SIM_PORT",
    "DART_SIM_PORT",
)


def free_stack_ports() -> dict[str, int]:
    """A free loopback port for each of the stack's ports."""
    return {name: free_port() for name in STACK_PORT_VARIABLES}


def fresh_machine_environment(home: Path, ports: dict[str, int], **settings: str) -> dict[str, str]:
    """What a fresh machine has (a PATH, an empty HOME, a locale), the ports, and ``settings``. Nothing else:
    no AWS credentials, no KIS key, no caches."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **settings,
        **{name: str(port) for name, port in ports.items()},
    }
