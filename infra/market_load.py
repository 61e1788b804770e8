"""The first `kstock up` fills the market before it says it is ready.

A newcomer's first start would otherwise show rankings without market caps (the market-data job
runs on a schedule) and charts with one bar (nothing loads history). So, before the ready banner:

* one full market-data refresh (every company's price, market cap and listed shares) through
  ``MarketDataFunction``, and the index history through ``IndexDataFunction``;
* the daily history of every seeded company that lacks it, through the same ``BackfillQueue`` and
  worker that `kstock backfill` uses, the default (most watched) symbols first, largest first after.

Progress goes to the console and to ``kstock:market-load`` in Redis, which /health reports (503
"starting" until loaded). Later starts skip what is already there: companies whose history reaches
back a year, and market data already refreshed.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from infra.backfill import BackfillJob, bar, queue_backfill
from infra.runtime import LocalCloud
from infra.supervisor import log
from kstock import aws, db, keys
from kstock.config import get_settings

HISTORY_DAYS = 729    # two one-year requests per company (730 would add a one-day third)
# a company whose oldest daily bar is at least this old has its history
HAS_HISTORY_DAYS = 365
# the backfill worker retries failures through the queue; past this long with no progress the
# load gives up waiting (what failed is in the BackfillDeadLetterQueue) and the stack goes on
STALL_SECONDS = 300.0
PROGRESS_EVERY = 5.0


def companies_without_history(default_symbols: list[str]) -> list[str]:
    """Stocks whose history does not reach back a year: the default symbols first, then by size."""
    with db.read() as conn:
        rows = conn.execute(
            """
            SELECT c.symbol FROM companies c
            WHERE c.kind IN ('STOCK', 'ETF', 'ETN') AND NOT EXISTS (
                SELECT 1 FROM ohlcv_1d o
                WHERE o.symbol = c.symbol AND o.bucket < now() - make_interval(days => %s))
            ORDER BY c.symbol = ANY(%s) DESC, c.market_cap DESC NULLS LAST, c.id
            """, (HAS_HISTORY_DAYS, default_symbols)).fetchall()
    return [r["symbol"] for r in rows]


def market_data_missing() -> bool:
    with db.read() as conn:
        row = conn.execute("SELECT count(*) AS n FROM companies c JOIN company_quotes q ON q.company_id = c.id "
                           "WHERE c.market_cap IS NOT NULL").fetchone()
    return row["n"] == 0


@dataclass
class MarketLoader:
    cloud: LocalCloud
    redis_url: str
    default_symbols: list[str]
    phases: list[str] = field(default_factory=list)
    _redis: redis.Redis | None = None

    @property
    def progress(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis_url, decode_responses=True)
        return self._redis

    def _report(self, state: str, done: int, total: int, phase: str) -> None:
        self.progress.set(keys.MARKET_LOAD, json.dumps({"state": state, "done": done, "total": total,
                                                        "phase": phase}))

    async def run(self) -> None:
        symbols = await asyncio.to_thread(companies_without_history, self.default_symbols)
        refresh = await asyncio.to_thread(market_data_missing)
        if not symbols and not refresh:
            log("market", "history and market data already loaded")
            await asyncio.to_thread(self._report, "loaded", 0, 0, "already loaded")
            return
        # market data first and alone: rankings fill within seconds, and the backfill that follows does
        # not compete with it for the app key's KIS REST budget (20 calls/s)
        await asyncio.to_thread(self._report, "loading", 0, 0, "market data")
        if refresh:
            await self._market_data()
        job = await asyncio.to_thread(self._queue, symbols) if symbols else None
        if job is not None:
            log("market", f"loading {HISTORY_DAYS} days of daily history for {len(symbols)} companies "
                          f"({job.total} requests through BackfillQueue)")
        await asyncio.gather(self._follow(job), self._indices())
        total = job.total if job else 0
        await asyncio.to_thread(self._report, "loaded", total, total, "done")
        log("market", "market loaded: " + ", ".join(self.phases))

    def _queue(self, symbols: list[str]) -> BackfillJob:
        provisioned = self.cloud.provisioned
        assert provisioned is not None, "the local cloud provisions before the market loads"
        sqs = aws.client("sqs", endpoint_url=self.cloud.endpoint, region=self.cloud.region)
        return queue_backfill(sqs, provisioned.queue_urls["BackfillQueue"], self.progress, symbols, HISTORY_DAYS)

    async def _invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        assert self.cloud.functions is not None
        return await self.cloud.functions.get(logical_id).invoke(event)

    async def _market_data(self) -> None:
        with db.read() as conn:
            companies = conn.execute("SELECT count(*) AS n FROM companies").fetchone()["n"]
        result = await self._invoke("MarketDataFunction", {"batchSize": companies})
        self.phases.append(f"market data {result}")
        log("market", f"market data refreshed: {result}")

    async def _indices(self) -> None:
        result = await self._invoke("IndexDataFunction", {})
        self.phases.append("indices loaded")
        log("market", f"index history loaded: {result}")

    async def _follow(self, job: BackfillJob | None) -> None:
        if job is None:
            return
        last_done, last_change, last_print = -1, time.monotonic(), 0.0
        while True:
            done = await asyncio.to_thread(job.done)
            now = time.monotonic()
            if done != last_done:
                last_done, last_change = done, now
                await asyncio.to_thread(self._report, "loading", done, job.total, "daily history")
            if now - last_print >= PROGRESS_EVERY or done >= job.total:
                log("market", f"daily history {bar(done, job.total)}")
                last_print = now
            if done >= job.total:
                self.phases.append(f"daily history {done}/{job.total} requests")
                return
            if now - last_change > STALL_SECONDS:
                log("market", f"daily history stalled at {done}/{job.total}: the rest is retried through "
                              "BackfillQueue (failures end in BackfillDeadLetterQueue)")
                self.phases.append(f"daily history {done}/{job.total} requests (stalled)")
                return
            await asyncio.sleep(1.0)


def default_symbols() -> list[str]:
    return [s.strip() for s in get_settings().streamer_default_symbols.split(",") if s.strip()]
