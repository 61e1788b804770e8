"""Step 1: kill -9 Redis. It restarts by itself, open subscriptions get ticks again, a revoked token
stays revoked, and Postgres holds every trade once (issue 17, findings 1-3)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(1800)  # the first test of the directory also starts the stack


def test_redis_killed_restarts_and_loses_nothing(behaves):
    result = behaves(1)
    assert any(c.name == "0 ticks lost in Postgres" and c.passed for c in result.checks)
