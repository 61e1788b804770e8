"""Step 2: kill -9 the streamer. kstock up restarts it, the open subscriptions get KIS ticks again
and the reconnect snapshot reaches them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(1800)


def test_streamer_killed_resumes_with_a_snapshot(behaves):
    behaves(2)
