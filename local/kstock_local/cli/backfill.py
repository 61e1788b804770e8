"""``kstock backfill [--symbols ...] [--days N]``: queue daily-history requests for the running
stack's BackfillWorkerFunction and show their progress. The first `kstock up` uses the same
queueing (:mod:`kstock_local.market_load`)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from kstock import aws, keys
from kstock.companies.reference import load_companies
from kstock.market.codes import classify
from kstock.ticks.backfill import split_range
from kstock_local.cloud.template import read_template
from kstock_local.paths import TEMPLATE_PATH
from kstock_local.stack_state import read_state


@dataclass(frozen=True)
class BackfillJob:
    job: str
    total: int
    progress: redis.Redis

    def done(self) -> int:
        done = self.progress.hget(keys.backfill_progress(self.job), "done")  # a sync client: str | None
        return int(str(done or 0))


def queue_backfill(sqs: Any, queue_url: str, progress: redis.Redis, codes: list[str], days: int) -> BackfillJob:
    """Put one request per symbol and year on the backfill queue, in the order of ``codes``."""
    end = datetime.now(UTC).date()
    pieces = split_range(end - timedelta(days=days), end)
    job = uuid.uuid4().hex[:12]
    # newest year first: a chart is useful as soon as its recent bars are in
    messages = [
        {"symbol": code, "start": start.isoformat(), "end": stop.isoformat(), "job": job}
        for code in codes
        for start, stop in reversed(pieces)
    ]
    progress.hset(keys.backfill_progress(job), mapping={"total": len(messages), "done": 0})
    progress.expire(keys.backfill_progress(job), 86_400)
    for i in range(0, len(messages), 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "MessageBody": json.dumps(m)} for n, m in enumerate(messages[i : i + 10])],
        )
    return BackfillJob(job, len(messages), progress)


def bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def run_backfill(symbols: list[str] | None, days: int, wait: float) -> int:
    state = read_state()
    if state is None:
        print("kstock backfill: no running stack (start one with `make up`)", file=sys.stderr)
        return 1
    env = state.environment
    codes = [classify(s).code for s in symbols] if symbols else [c.symbol for c in load_companies()]
    template = read_template(TEMPLATE_PATH, sqs_endpoint=env["AWS_ENDPOINT_URL"])
    queue_url = f"{env['AWS_ENDPOINT_URL']}/123456789012/{template.queues['BackfillQueue'].name}"
    sqs = aws.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], region=env.get("AWS_REGION"))
    job = queue_backfill(sqs, queue_url, redis.Redis.from_url(env["REDIS_URL"], decode_responses=True), codes, days)
    print(f"queued {job.total} request(s) for {len(codes)} symbol(s), {days} days (job {job.job})")
    last_change, last_done = time.monotonic(), -1
    while True:
        done = job.done()
        print(f"\r{bar(done, job.total)}", end="", flush=True)
        if done >= job.total:
            print("\ndone")
            return 0
        if done != last_done:
            last_change, last_done = time.monotonic(), done
        if time.monotonic() - last_change > wait:
            print(
                f"\nno progress for {wait:.0f}s: {job.total - done} request(s) still queued or retried "
                "(failures end in the BackfillDeadLetterQueue)"
            )
            return 2
        time.sleep(0.5)
