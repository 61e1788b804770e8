"""Which fan-out worker owns a WebSocket connection (issue 18, "then scale out").

K fan-out workers read the same Redis channels; each delivers only to the connections it owns:
``stable_hash(connection_id) % count == index``. The hash is CRC-32 of the id's UTF-8 bytes: the same
in every process and every Python (never the salted built-in ``hash()``), cheap on the hot path of a
``ws:control`` announcement. ``index``/``count`` come from the live workers (:mod:`.membership`); one
worker alone (``Partition.whole()``) owns every connection, as a single fan-out always did.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


def stable_hash(connection_id: str) -> int:
    """A hash of ``connection_id`` every process computes alike."""
    return zlib.crc32(connection_id.encode("utf-8"))


@dataclass(frozen=True)
class Partition:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"a partition is 0 <= index < count, got index {self.index} of {self.count}")

    @classmethod
    def whole(cls) -> Partition:
        """One worker: it owns every connection."""
        return cls(0, 1)

    @classmethod
    def among(cls, worker_id: str, members: list[str] | set[str]) -> Partition:
        """``worker_id``'s partition among ``members`` (the live workers, itself included): its rank
        among their ids in sorted order, so every worker computes the same split from the same list."""
        ordered = sorted(set(members) | {worker_id})
        return cls(ordered.index(worker_id), len(ordered))

    def owns(self, connection_id: str) -> bool:
        return self.count == 1 or stable_hash(connection_id) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index + 1} of {self.count}"
