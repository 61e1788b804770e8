"""The test rooms and what they share.

- ``tests/unit``: no servers, no sockets; the whole room runs in seconds (``make test-fast``).
- ``tests/integration``: embedded PostgreSQL and Redis, the simulators and stand-ins over real sockets,
  moto, local Lambda processes.
- ``tests/e2e``: the local cloud (LocalCloud, ``kstock up``) and the browser.

Each test gets its room's marker (``unit``, ``integration``, ``e2e``) from its directory, so none can forget
it: ``pytest -m unit`` selects the fast room. Fixtures reach every room through ``pytest_plugins``
(tests/fixtures); plain helpers are imported from ``support`` (tests/support).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "fixtures.environment",
    "fixtures.services",
    "fixtures.api",
    "fixtures.aws",
    "fixtures.live",
]

ROOMS = ("unit", "integration", "e2e")
# Every server a test can ask for starts below one of these (database, api, cloud, streamer... depend on them).
SERVER_FIXTURES = {"services", "moto_endpoint"}
TESTS = Path(__file__).resolve().parent


def room_of(path: Path) -> str | None:
    """The room a test file sits in: the first directory under tests/."""
    parts = path.resolve().relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 and parts[0] in ROOMS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        room = room_of(item.path)
        if room is None:
            raise pytest.UsageError(
                f"{item.nodeid}: a test module belongs in tests/unit, tests/integration or tests/e2e"
            )
        if room == "unit" and SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid} starts servers: it belongs in tests/integration or tests/e2e")
        item.add_marker(getattr(pytest.mark, room))
