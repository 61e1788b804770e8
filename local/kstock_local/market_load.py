"""The first `kstock up` fills the market before it says it is ready.

A newcomer's first start would otherwise show rankings without market caps (the market-data job
runs on a schedule) and charts with one bar (nothing loads history). So, before the ready banner:

* one full market-data refresh (every company's price, market cap and listed shares) through
  ``MarketDataFunction``, and the index history through ``IndexDataFunction``;
* the daily history of every seeded company that lacks it, through the same ``BackfillQueue`` and
  worker that `kstock backfill` uses, the default (most watched) symbols first, largest first after.

With the whole market seeded (~2,500 companies, about 15,000 KIS calls at 20 a second), the ready
banner waits only for what a newcomer sees first: the market data of the default symbols and the
``first_companies`` largest (the market-cap rankings of both markets come in the same call), and the
history of those. The rest continues in the background once /health says ok: market data in
batches that fit MarketDataFunction's timeout, then the history of every other company, largest
first, with its progress still in ``kstock:market-load`` (state ``loaded``, phase ``background ...``).

Progress goes to the console and to ``kstock:market-load`` in Redis, which /health reports (503
"starting" until the first part is loaded). Later starts skip what is already there: companies whose
history reaches back a year, and market data already refreshed.

Right after the first history (and the ready banner), a first start also queues the content loads
(issue 13): one news query per company and industry on ``NewsQueue``, and (after the corp codes,
which every DART load needs) the filings and key accounts of every seeded company on ``DartQueue``,
the default symbols first. The ready banner does not wait for them: the default symbols' routes
fill within a minute or two.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import redis

from kstock import aws, db, keys
from kstock.config import get_settings
from kstock_local.cli.backfill import BackfillJob, bar, queue_backfill
from kstock_local.cloud.runtime import LocalCloud
from kstock_local.supervisor import log

HISTORY_DAYS = 729  # two one-year requests per company (730 would add a one-day third)
# the largest companies whose market data and history the ready banner waits for, beside the default
# symbols; the rest loads in the background (the stack passes its setting here)
FIRST_LOAD_COMPANIES = 100
# companies per background MarketDataFunction call: at the KIS budget of 20 calls/s, well inside its timeout
MARKET_DATA_BATCH = 600
# background tasks: asyncio keeps only weak references to tasks
_BACKGROUND: set[asyncio.Task[None]] = set()
# a company whose oldest daily bar is at least this old has its history
HAS_HISTORY_DAYS = 365
# the backfill worker retries failures through the queue; past this long with no progress the
# load gives up waiting (what failed is in the BackfillDeadLetterQueue) and the stack goes on
STALL_SECONDS = 300.0
PROGRESS_EVERY = 5.0
BACKGROUND_PROGRESS_EVERY = 60.0  # the console is the newcomer's after the banner: a line a minute


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
            """,
            (HAS_HISTORY_DAYS, default_symbols),
        ).fetchall()
    return [r["symbol"] for r in rows]


def first_seen(default_symbols: list[str], largest: int) -> set[str]:
    """What a newcomer sees first: the default symbols and the ``largest`` companies by market cap
    (before any market data, the seed's order, which lists the largest first)."""
    with db.read() as conn:
        rows = conn.execute(
            """
            SELECT symbol FROM companies WHERE kind IN ('STOCK', 'ETF', 'ETN')
            ORDER BY market_cap DESC NULLS LAST, id LIMIT %s
            """,
            (largest,),
        ).fetchall()
    return set(default_symbols) | {r["symbol"] for r in rows}


def market_data_missing() -> bool:
    with db.read() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM companies c JOIN company_quotes q ON q.company_id = c.id "
            "WHERE c.market_cap IS NOT NULL"
        ).fetchone()
    return row is None or row["n"] == 0


def companies_without_market_data() -> int:
    with db.read() as conn:
        row = conn.execute("SELECT count(*) AS n FROM companies WHERE market_data_at IS NULL").fetchone()
    return int(row["n"]) if row else 0


@dataclass
class MarketLoader:
    cloud: LocalCloud
    redis_url: str
    default_symbols: list[str]
    first_companies: int = FIRST_LOAD_COMPANIES
    phases: list[str] = field(default_factory=list)
    _redis: redis.Redis | None = None

    @property
    def progress(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis_url, decode_responses=True)
        return self._redis

    def _report(self, state: str, done: int, total: int, phase: str) -> None:
        self.progress.set(keys.MARKET_LOAD, json.dumps({"state": state, "done": done, "total": total, "phase": phase}))

    async def run(self) -> None:
        symbols = await asyncio.to_thread(companies_without_history, self.default_symbols)
        refresh = await asyncio.to_thread(market_data_missing)
        if not symbols and not refresh:
            log("market", "history and market data already loaded")
            await self._content()
            await asyncio.to_thread(self._report, "loaded", 0, 0, "already loaded")
            return
        first_count = len(self.default_symbols) + self.first_companies
        # market data first and alone: rankings fill within seconds, and the backfill that follows does
        # not compete with it for the app key's KIS REST budget (20 calls/s)
        await asyncio.to_thread(self._report, "loading", 0, 0, "market data")
        if refresh:
            await self._market_data(first_count)
            # caps are known now for the largest: order the history by them
            symbols = await asyncio.to_thread(companies_without_history, self.default_symbols)
        # a later start whose first part is loaded is ready at once: the rest goes on in the background
        seen = await asyncio.to_thread(first_seen, self.default_symbols, self.first_companies)
        first, rest = [s for s in symbols if s in seen], [s for s in symbols if s not in seen]
        job = await asyncio.to_thread(self._queue, first) if first else None
        if job is not None:
            log(
                "market",
                f"loading {HISTORY_DAYS} days of daily history for {len(first)} companies "
                f"({job.total} requests through BackfillQueue)"
                + (f"; the other {len(rest)} follow in the background" if rest else ""),
            )
        await asyncio.gather(self._follow(job), self._indices())
        total = job.total if job else 0
        await asyncio.to_thread(self._report, "loaded", total, total, "done")
        log("market", "market loaded: " + ", ".join(self.phases))
        # news and DART loads are queued after: with the whole market, queueing them alone takes minutes
        # of SQS calls, and their workers would compete with the first history for the CPU
        task = asyncio.create_task(self._background(rest), name="market-load-background")
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    async def _background(self, rest: list[str]) -> None:
        """After the ready banner: the news and DART loads, then the rest of the market (market data,
        then history, largest first)."""
        try:
            await self._content()
            if not rest and not await asyncio.to_thread(companies_without_market_data):
                return
            log("market", f"background: market data of the other companies, then history of {len(rest)}")
            while await self._market_data_batch():
                pass
            if rest:
                # the background refresh stored caps: largest first again, whatever was loaded meanwhile
                ordered = await asyncio.to_thread(companies_without_history, self.default_symbols)
                job = await asyncio.to_thread(self._queue, ordered)
                await self._follow(job, phase="background: daily history", state="loaded")
            log("market", "background load finished: every seeded company has market data and history")
        except Exception as exc:  # the schedules fill the market later anyway
            log("market", f"background load stopped: {exc!r}")

    def _queue(self, symbols: list[str]) -> BackfillJob:
        provisioned = self.cloud.provisioned
        assert provisioned is not None, "the local cloud provisions before the market loads"
        sqs = aws.client("sqs", endpoint_url=self.cloud.endpoint, region=self.cloud.region)
        return queue_backfill(sqs, provisioned.queue_urls["BackfillQueue"], self.progress, symbols, HISTORY_DAYS)

    async def _invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        assert self.cloud.functions is not None
        return await self.cloud.functions.get(logical_id).invoke(event)

    async def _market_data(self, companies: int) -> None:
        """The market-cap rankings of both markets and the ``companies`` stalest (the largest: the
        seed lists them first)."""
        result = await self._invoke("MarketDataFunction", {"batchSize": companies})
        self.phases.append(f"market data {result}")
        log("market", f"market data refreshed: {result}")

    async def _market_data_batch(self) -> bool:
        """One background batch of companies never refreshed; False when none is left or none moved."""
        missing = await asyncio.to_thread(companies_without_market_data)
        if not missing:
            return False
        result = await self._invoke("MarketDataFunction", {"batchSize": min(missing, MARKET_DATA_BATCH)})
        left = await asyncio.to_thread(companies_without_market_data)
        log("market", f"background market data: {result}, {left} companies left")
        return 0 < left < missing

    async def _content(self) -> None:
        """Queue a first start's news and DART loads; a failure is logged, never stops the stack."""
        try:
            summary = await queue_first_content(self.cloud, self.default_symbols)
        except Exception as exc:  # the schedules load news and filings later anyway
            log("content", f"news / DART loads not queued: {exc!r}")
            return
        if summary:
            self.phases.append(summary)

    async def _indices(self) -> None:
        result = await self._invoke("IndexDataFunction", {})
        self.phases.append("indices loaded")
        log("market", f"index history loaded: {result}")

    async def _follow(
        self,
        job: BackfillJob | None,
        phase: str = "daily history",
        state: Literal["loading", "loaded"] = "loading",
    ) -> None:
        """Report ``job``'s progress until done or stalled; ``state`` is what /health sees meanwhile."""
        if job is None:
            return
        last_done, last_change, last_print = -1, time.monotonic(), 0.0
        every = PROGRESS_EVERY if state == "loading" else BACKGROUND_PROGRESS_EVERY
        while True:
            done = await asyncio.to_thread(job.done)
            now = time.monotonic()
            if done != last_done:
                last_done, last_change = done, now
                await asyncio.to_thread(self._report, state, done, job.total, phase)
            if now - last_print >= every or done >= job.total:
                log("market", f"{phase} {bar(done, job.total)}")
                last_print = now
            if done >= job.total:
                self.phases.append(f"{phase} {done}/{job.total} requests")
                if state == "loaded":
                    await asyncio.to_thread(self._report, "loaded", done, job.total, "done")
                return
            if now - last_change > STALL_SECONDS:
                log(
                    "market",
                    f"{phase} stalled at {done}/{job.total}: the rest is retried through "
                    "BackfillQueue (failures end in BackfillDeadLetterQueue)",
                )
                self.phases.append(f"{phase} {done}/{job.total} requests (stalled)")
                return
            await asyncio.sleep(1.0)  # polling Redis for the workers' count, not synchronising a test


# -- news and DART on a first start (issue 13) ------------------------------------------------------


def first_content_loads(default_symbols: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """News query messages when no news is stored (every company, then every industry), and the
    symbols whose filings were never loaded; the default symbols first in both."""
    from kstock.news.ingest import queries_for

    with db.read() as conn:
        has_news = conn.execute("SELECT 1 FROM news LIMIT 1").fetchone() is not None
        queries = [] if has_news else queries_for(conn)
        ids = {r["id"]: r["symbol"] for r in conn.execute("SELECT id, symbol FROM companies").fetchall()}
        rows = conn.execute(
            """
            SELECT c.symbol FROM companies c
            WHERE c.kind = 'STOCK' AND NOT EXISTS (
                SELECT 1 FROM data_refreshes r WHERE r.company_id = c.id AND r.kind = 'filings')
            ORDER BY c.symbol = ANY(%s) DESC, c.market_cap DESC NULLS LAST, c.id
            """,
            (default_symbols,),
        ).fetchall()
    first = set(default_symbols)
    queries.sort(key=lambda q: (q.kind != "company", ids.get(q.id) not in first if q.kind == "company" else False))
    return [q.message() for q in queries], [r["symbol"] for r in rows]


async def queue_first_content(cloud: LocalCloud, default_symbols: list[str]) -> str | None:
    """Queue what :func:`first_content_loads` finds missing; a line for the console, or None."""
    from kstock.dart.requests import requests_for

    news, dart_symbols = await asyncio.to_thread(first_content_loads, default_symbols)
    if not news and not dart_symbols:
        return None
    assert cloud.provisioned is not None and cloud.functions is not None
    if dart_symbols:  # every DART load needs the corp codes: fetch them once, before the loads
        result = await cloud.functions.get("DartCorpCodesFunction").invoke({})
        log("content", f"DART corp codes: {result}")
    sqs = aws.client("sqs", endpoint_url=cloud.endpoint, region=cloud.region)
    dart = [r.message() for r in requests_for(dart_symbols)]
    # both queues at once: with the whole market each takes minutes of batches, and the default symbols
    # (first in both lists) should not wait behind the other queue's thousands of messages
    await asyncio.gather(
        asyncio.to_thread(
            _send,
            aws.client("sqs", endpoint_url=cloud.endpoint, region=cloud.region),
            cloud.provisioned.queue_urls["NewsQueue"],
            news,
        ),
        asyncio.to_thread(_send, sqs, cloud.provisioned.queue_urls["DartQueue"], dart),
    )
    summary = f"queued {len(news)} news queries and DART loads of {len(dart_symbols)} companies ({len(dart)} messages)"
    log("content", summary + ": the news, financials and reports routes fill as the workers finish")
    return summary


def _send(sqs: Any, queue_url: str, bodies: list[dict[str, Any]]) -> None:
    for i in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps(body, ensure_ascii=False)}
                for n, body in enumerate(bodies[i : i + 10])
            ],
        )


def default_symbols() -> list[str]:
    return [s.strip() for s in get_settings().streamer_default_symbols.split(",") if s.strip()]
