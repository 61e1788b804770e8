"""The README documents every setting kstock reads."""

from pathlib import Path

from kstock.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_configuration_table():
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert not missing, f"README configuration table lacks {missing}"


def test_quick_start_shows_the_two_commands_first():
    quick_start = README.split("## Quick start", 1)[1]
    assert quick_start.index("make up") < quick_start.index("make test") < quick_start.index("##")
