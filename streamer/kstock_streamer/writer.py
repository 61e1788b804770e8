"""The tick writer: Redis tick stream -> ``stock_ticks``, exactly once.

Reads the stream through a consumer group, writes each batch with COPY into a temporary table and
``INSERT ... ON CONFLICT DO NOTHING`` into the day partitions (created on demand), commits, and
only then acknowledges the entries. A row's identity is ``{stream entry id}:{index in frame}``:
KIS trades carry no id and identical trades happen, so rows are never deduplicated on their
values, while a redelivered entry (after a crash or a failed commit) produces no second row.
If Postgres is away, entries stay pending in the stream and are written when it is back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from kstock import keys

log = logging.getLogger("kstock_streamer.writer")

COLUMNS = "time, symbol, price, volume, acc_volume, change, change_percent, source, stream_id"


@dataclass
class WriterStats:
    rows: int = 0
    batches: int = 0
    duplicates: int = 0
    db_errors: int = 0
    redis_errors: int = 0
    lost_entries: int = 0
    dead_letters: int = 0  # entries that cannot be stored, moved to keys.TICK_DEAD_LETTERS
    last_commit_at: float | None = None
    last_entry_ms: int | None = None  # stream time of the newest entry written (lag = now - this)


# what a malformed entry raises (bad JSON, a missing field, a value Postgres refuses): retrying it
# cannot help, and left pending it would stop every batch after it
_UNSTORABLE = (ValueError, KeyError, TypeError, psycopg.DataError, psycopg.IntegrityError)
DEAD_LETTERS_MAXLEN = 100_000


def _entry_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def rows_of(entry_id: str, payload: str) -> list[tuple[Any, ...]]:
    """The rows of one stream entry (a frame's ticks as the contract's JSON list)."""
    rows = []
    for index, tick in enumerate(json.loads(payload)):
        rows.append(
            (
                tick["timestamp"],
                tick["symbol"],
                tick["price"],
                tick["volume"],
                tick.get("accVolume"),
                tick.get("change"),
                tick.get("changePercent"),
                tick.get("source", "ws"),
                f"{entry_id}:{index}",
            )
        )
    return rows


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    # COPY text format; every value here is a number, an ISO time or an alphanumeric code: no escaping needed
    return "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)


class TickWriter:
    def __init__(
        self,
        redis: aioredis.Redis,
        database_url: str,
        *,
        consumer: str = "writer-1",
        batch: int = 5000,
        block_ms: int = 500,
        retry_initial: float = 0.5,
        retry_max: float = 10.0,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.redis = redis
        self.database_url = database_url
        self.consumer = consumer
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.stats = WriterStats()
        self._conn: psycopg.AsyncConnection | None = None
        self._partitions: set[date] = set()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def ensure_group(self) -> None:
        try:
            # from the start of the stream: entries appended before the group existed are written too
            await self.redis.xgroup_create(keys.TICK_STREAM, keys.TICK_WRITER_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.database_url)
            self._partitions.clear()
        return self._conn

    async def write(self, entries: list[tuple[str, dict[str, str]]], *, fresh: bool = False) -> int:
        """Write entries in one transaction; returns rows inserted.

        ``fresh`` entries were just delivered to this group for the first time (read with ``>``), so
        none of them can be in the table yet: they are COPYed straight in. Redelivered ones (our own
        pending entries, or a dead writer's we claimed) may have been committed before their
        acknowledgement was lost, so they go through a temporary table and ON CONFLICT DO NOTHING.
        """
        rows = [row for entry_id, fields in entries for row in rows_of(entry_id, fields["t"])]
        if not rows:
            return 0
        conn = await self._connection()
        days = {datetime.fromisoformat(r[0]).astimezone(UTC).date() for r in rows} - self._partitions
        async with conn.transaction():
            async with conn.cursor() as cur:
                for day in sorted(days):
                    await cur.execute("SELECT ensure_tick_partitions(%s, 1)", (day,))
                if fresh:
                    async with cur.copy(f"COPY stock_ticks ({COLUMNS}) FROM STDIN") as copy:
                        await copy.write(_copy_text(rows))
                    inserted = len(rows)
                else:
                    await cur.execute(
                        "CREATE TEMP TABLE IF NOT EXISTS tick_batch "
                        "(LIKE stock_ticks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                    )
                    async with cur.copy(f"COPY tick_batch ({COLUMNS}) FROM STDIN") as copy:
                        await copy.write(_copy_text(rows))
                    await cur.execute(
                        f"INSERT INTO stock_ticks ({COLUMNS}) SELECT {COLUMNS} FROM tick_batch ON CONFLICT DO NOTHING"
                    )
                    inserted = cur.rowcount
        self._partitions |= days
        self.stats.duplicates += len(rows) - inserted
        return inserted

    async def _claim_stale(self) -> list[tuple[str, dict[str, str]]]:
        """Entries another writer read but never acknowledged (it died): take them over."""
        answer = await self.redis.xautoclaim(
            keys.TICK_STREAM,
            keys.TICK_WRITER_GROUP,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.batch,
        )
        return answer[1] if answer else []

    async def _read(self, stream_id: str) -> list[tuple[str, dict[str, str]]]:
        answer = await self.redis.xreadgroup(
            keys.TICK_WRITER_GROUP,
            self.consumer,
            {keys.TICK_STREAM: stream_id},
            count=self.batch,
            block=None if stream_id == "0" else self.block_ms,
        )
        return answer[0][1] if answer else []

    async def step(self) -> int:
        """One batch: this consumer's pending entries first (a redelivery), then new ones."""
        entries = await self._read("0")
        if not entries:
            entries = await self._claim_stale()
        fresh = not entries
        if fresh:
            entries = await self._read(">")
        trimmed = [entry_id for entry_id, fields in entries if not fields]
        if trimmed:  # trimmed away while pending (the stream's bound was hit during an outage): gone for good
            await self.redis.xack(keys.TICK_STREAM, keys.TICK_WRITER_GROUP, *trimmed)
            self.stats.lost_entries += len(trimmed)
            log.error("%d stream entries were trimmed before they were written", len(trimmed))
        entries = [(entry_id, fields) for entry_id, fields in entries if fields]
        if not entries:
            return len(trimmed)
        try:
            inserted = await self.write(entries, fresh=fresh)
        except _UNSTORABLE:
            inserted = await self._write_apart(entries)
        await self.redis.xack(keys.TICK_STREAM, keys.TICK_WRITER_GROUP, *[entry_id for entry_id, _ in entries])
        self.stats.rows += inserted
        self.stats.batches += 1
        self.stats.last_commit_at = time.time()
        self.stats.last_entry_ms = _entry_ms(entries[-1][0])
        return len(entries)

    async def _write_apart(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        """A batch Postgres refused, entry by entry: the storable ones are written (without
        duplicates), the others go to the dead-letter stream, so one bad entry stops nothing."""
        inserted = 0
        for entry_id, fields in entries:
            try:
                inserted += await self.write([(entry_id, fields)])
            except _UNSTORABLE as exc:
                dead_letter: dict[Any, Any] = {"id": entry_id, "error": f"{type(exc).__name__}: {exc}", **fields}
                await self.redis.xadd(
                    keys.TICK_DEAD_LETTERS,
                    dead_letter,
                    maxlen=DEAD_LETTERS_MAXLEN,
                    approximate=True,
                )
                self.stats.dead_letters += 1
                log.error(
                    "stream entry %s cannot be stored (%s); moved to %s",
                    entry_id,
                    type(exc).__name__,
                    keys.TICK_DEAD_LETTERS,
                )
        return inserted

    async def run(self) -> None:
        """Write until stopped; outages of Redis or Postgres are waited out, never fatal."""
        attempt = 0
        group_ready = False
        while not self._stopping.is_set():
            try:
                if not group_ready:
                    await self.ensure_group()
                    group_ready = True
                await self.step()
                attempt = 0
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self.stats.db_errors += 1
                await self._close_connection()
                attempt = await self._backoff(attempt, "Postgres", exc)
            except (RedisError, OSError) as exc:
                self.stats.redis_errors += 1
                group_ready = False
                attempt = await self._backoff(attempt, "Redis", exc)

    async def drain(self, timeout: float = 10.0) -> None:
        """Write what is already in the stream (graceful shutdown), within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if await self.step() == 0:
                    return
            except (psycopg.Error, RedisError, OSError) as exc:
                log.warning("drain stopped: %s", exc)
                return

    async def _backoff(self, attempt: int, what: str, exc: BaseException) -> int:
        delay = min(self.retry_max, self.retry_initial * 2**attempt)
        log.warning("%s unavailable (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            pass
        return attempt + 1

    async def _close_connection(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    async def close(self) -> None:
        await self._close_connection()
