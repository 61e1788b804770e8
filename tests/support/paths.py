"""Where things are in the repository, for tests in any room."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TESTS = PROJECT_ROOT / "tests"
# A small template of probe handlers (tests/support/local_cloud/handlers) for the local cloud's own tests.
PROBE_TEMPLATE = TESTS / "support" / "local_cloud" / "template.yaml"
