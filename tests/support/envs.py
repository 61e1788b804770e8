"""Settings come from the environment: tests change it through this one helper, which reloads
kstock's settings (the core's and the laptop's) on the way in and restores all on the way out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kstock.config import reload_settings
from kstock_local.settings import reload_local_settings


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, unset) variables for the block; any scope, unlike the monkeypatch fixture."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        _reload()
        try:
            yield
        finally:
            patch.undo()
            _reload()


def _reload() -> None:
    reload_settings()
    reload_local_settings()
