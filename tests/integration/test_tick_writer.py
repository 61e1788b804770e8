"""The tick writer's delivery rules: new entries straight in, redelivered ones without duplicates,
a dead writer's unacknowledged entries taken over."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
import redis
import redis.asyncio as aioredis

from kstock import keys
from kstock_streamer.writer import TickWriter


def tick(n: int) -> dict:
    return {
        "type": "tick",
        "symbol": "005930",
        "price": 70000 + n,
        "volume": 1,
        "accVolume": n,
        "change": 0,
        "changePercent": 0.0,
        "timestamp": f"2026-11-20T00:00:{n % 60:02d}.000Z",
        "source": "ws",
    }


@pytest.fixture
def stream(services, database):
    r = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    r.delete(keys.TICK_STREAM)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM stock_ticks WHERE symbol = '005930'")
    yield r
    r.delete(keys.TICK_STREAM)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM stock_ticks WHERE symbol = '005930'")


def rows(database) -> list[str]:
    with psycopg.connect(database) as conn:
        return [r[0] for r in conn.execute("SELECT stream_id FROM stock_ticks WHERE symbol = '005930'")]


def run(coroutine):
    return asyncio.run(coroutine)


def test_identical_trades_are_all_kept_and_a_redelivery_adds_nothing(services, database, stream):
    # two identical trades in one frame, then the same frame again as a separate entry
    stream.xadd(keys.TICK_STREAM, {"t": json.dumps([tick(1), tick(1)])})
    stream.xadd(keys.TICK_STREAM, {"t": json.dumps([tick(1)])})

    async def scenario():
        client = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
        writer = TickWriter(client, database)
        await writer.ensure_group()
        entries = await writer._read(">")
        await writer.write(entries, fresh=True)  # committed, then "crash" before the acknowledgement
        await writer.step()  # the restart reads its pending entries again
        pending = await client.xpending(keys.TICK_STREAM, keys.TICK_WRITER_GROUP)
        await writer.close()
        await client.aclose()
        return writer.stats, pending

    stats, pending = run(scenario())
    assert len(rows(database)) == 3 and len(set(rows(database))) == 3  # identical trades are distinct rows
    assert stats.duplicates == 3 and pending["pending"] == 0


def test_a_dead_writers_entries_are_taken_over(services, database, stream):
    for n in range(5):
        stream.xadd(keys.TICK_STREAM, {"t": json.dumps([tick(n)])})

    async def scenario():
        client = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
        dead = TickWriter(client, database, consumer="writer-dead")
        await dead.ensure_group()
        assert len(await dead._read(">")) == 5  # read, never written: the process died
        heir = TickWriter(client, database, consumer="writer-heir", claim_idle_ms=0)
        await heir.step()
        await heir.close()
        await client.aclose()

    run(scenario())
    assert len(rows(database)) == 5


def test_an_unstorable_entry_goes_to_the_dead_letters_and_the_rest_is_written(services, database, stream):
    stream.delete(keys.TICK_DEAD_LETTERS)
    stream.xadd(keys.TICK_STREAM, {"t": json.dumps([tick(1)])})
    stream.xadd(keys.TICK_STREAM, {"t": "not json"})
    stream.xadd(keys.TICK_STREAM, {"t": json.dumps([{**tick(2), "price": "seventy thousand"}])})
    stream.xadd(keys.TICK_STREAM, {"t": json.dumps([tick(3)])})

    async def scenario():
        client = aioredis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
        writer = TickWriter(client, database)
        await writer.ensure_group()
        await writer.step()
        stream.xadd(keys.TICK_STREAM, {"t": json.dumps([tick(4)])})  # later batches are not held up
        await writer.step()
        pending = await client.xpending(keys.TICK_STREAM, keys.TICK_WRITER_GROUP)
        await writer.close()
        await client.aclose()
        return writer.stats, pending

    stats, pending = run(scenario())
    dead = stream.xrange(keys.TICK_DEAD_LETTERS)
    stream.delete(keys.TICK_DEAD_LETTERS)
    with psycopg.connect(database) as conn:
        prices = [r[0] for r in conn.execute("SELECT price FROM stock_ticks WHERE symbol = '005930' ORDER BY price")]
    assert prices == [70001, 70003, 70004]
    assert [d[1]["t"] for d in dead][0] == "not json" and len(dead) == 2 and stats.dead_letters == 2
    assert all(d[1]["error"] for d in dead) and pending["pending"] == 0
