"""Settings come from the environment: tests change it through this one helper, which reloads
kstock's settings on the way in and restores both on the way out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kstock.config import reload_settings


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, unset) variables for the block; any scope, unlike the monkeypatch fixture."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        reload_settings()
        try:
            yield
        finally:
            patch.undo()
            reload_settings()
