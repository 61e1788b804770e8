"""Step 4: Postgres stops (SIGSTOP, 10 s here; `kstock chaos` 30 s). The writer catches up with 0
ticks lost and 0 duplicated."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(1800)


def test_a_stopped_postgres_loses_no_tick(behaves):
    behaves(4)
