"""Directories for servers that run as another user, outside pytest's temporary tree.

As root, pgserver runs PostgreSQL as a user of its own and opens every parent of the data
directory to it. pytest makes /tmp/pytest-of-<user> private again at the start of every session,
so a second test run on the machine (a parallel `make test` in another clone) closed the door
under the first one's initdb: "could not access directory ...: Permission denied".
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def server_dir(name: str) -> Iterator[Path]:
    """A fresh directory under the system temp dir, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"kstock-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
