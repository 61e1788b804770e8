"""Step 3: KIS hangs (SIGSTOP, 25 s here; `kstock chaos` holds it 60 s). Polling answers 503
STREAM_UNAVAILABLE, both health endpoints report it, clients get stalled then resumed (finding 7)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(1800)


def test_a_hung_kis_is_reported_and_recovered(behaves):
    behaves(3)
