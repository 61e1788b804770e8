"""Step 5: one user's 300-socket subscribe flood. Other users keep their KIS slots, demand equals the
registry, and nothing leaks once the sockets close (findings 4 and 5)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(1800)


def test_one_users_flood_takes_no_slot_and_leaks_nothing(behaves):
    behaves(5)
