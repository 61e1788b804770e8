"""The README documents every setting kstock reads, each in the section of the runtime that reads it."""

import re
from pathlib import Path

from kstock.config import Settings
from kstock_local.settings import LocalSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")

# Fields in both classes while a core module still read them (issue 12: none left).
TRANSITIONAL: set[str] = set()


def _section(title: str) -> str:
    configuration = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return configuration.split(f"\n### {title}\n", 1)[1].split("\n### ", 1)[0]


def _documented(section: str) -> set[str]:
    """The variables named in the first column of a section's table (a row may name two: `A` / `B`)."""
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Z0-9_]+)`", row.split(" | ", 1)[0]))
    return names


def test_every_core_setting_is_in_the_core_table():
    core = {name.upper() for name in Settings.model_fields if name not in TRANSITIONAL}
    documented = _documented(_section("Core"))
    assert not core - documented, f"README's Core table lacks {sorted(core - documented)}"
    assert not documented - core, (
        f"README's Core table lists settings the core does not read: {sorted(documented - core)}"
    )


def test_every_local_setting_is_in_the_local_table():
    local = {name.upper() for name in LocalSettings.model_fields}
    documented = _documented(_section("Local (laptop only)"))
    assert not local - documented, f"README's Local table lacks {sorted(local - documented)}"
    assert not documented - local, (
        f"README's Local table lists settings the laptop does not read: {sorted(documented - local)}"
    )


def test_no_setting_belongs_to_both_runtimes():
    shared = set(Settings.model_fields) & set(LocalSettings.model_fields)
    assert shared <= TRANSITIONAL, f"settings in both the core and LocalSettings: {sorted(shared - TRANSITIONAL)}"


def test_quick_start_shows_the_two_commands_first():
    quick_start = README.split("## Quick start", 1)[1]
    assert quick_start.index("make up") < quick_start.index("make test") < quick_start.index("##")
