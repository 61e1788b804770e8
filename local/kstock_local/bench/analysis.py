"""``kstock bench analysis``: the nightly analysis job's duration and tokens per analysis.

The seeded universe (every reference company and industry) gets two years of financials, 130 daily
bars, five news items and two filings per company, on a throwaway embedded Postgres and Redis (nothing
of a running stack is touched). The nightly job (:func:`kstock.analysis.service.queue_nightly`) queues the
largest companies and every industry; each message then goes through the worker's code
(:func:`kstock.analysis.service.compute`) one after the other, with kstock's real google-genai client
talking to a small Gemini stand-in on 127.0.0.1 that speaks the generateContent wire format and answers
valid JSON built from the ids in the prompt (usageMetadata counted at about four characters a token,
as Gemini's docs estimate). The printout: analyses, wall time, time per analysis and tokens per analysis
from the LLM call log (:func:`kstock.llm.usage_by_feature`).

Serial on purpose: the figure is one worker's cost per analysis; Lambda runs the queue concurrently.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

BENCH_KEY = "bench-gemini-key"
MODEL_VERSION = "gemini-2.5-flash"
CITABLE = re.compile(r"\[((?:news|filing|fig):[^\]]+)\]")
BARS = 130


class _Standin:
    """A generateContent server answering a valid analysis citing the first ids of the prompt."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-gemini", daemon=True)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.requests = 0

    def __enter__(self) -> _Standin:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    def __exit__(self, *_: object) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{version}/models/{model}:generateContent", self._generate)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = int(self.runner.addresses[0][1])

    async def _generate(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("x-goog-api-key") != BENCH_KEY:
            error = {"code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}
            return web.json_response({"error": error}, status=403)
        body = await request.json()
        prompt = "\n".join(p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", []))
        system = "\n".join(p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts", []))
        ids = list(dict.fromkeys(CITABLE.findall(prompt)))
        figures = [i for i in ids if i.startswith("fig:")] or ids
        stories = [i for i in ids if not i.startswith("fig:")] or figures
        answer = {
            "summary": "주어진 재무와 주가 데이터를 요약한다. 매출과 이익 추이를 본다. 뉴스 흐름을 본다.",
            "outlook": "neutral",
            "growthScore": 50 + len(ids) % 30,
            "drivers": [{"text": "실적 추이", "citations": figures[:2]}, {"text": "뉴스", "citations": stories[:2]}],
            "risks": [{"text": "변동성", "citations": figures[-1:]}],
        }
        text = json.dumps(answer, ensure_ascii=False)
        prompt_tokens, answer_tokens = (len(system) + len(prompt) + 3) // 4, (len(text) + 3) // 4
        return web.json_response(
            {
                "candidates": [
                    {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": {
                    "promptTokenCount": prompt_tokens,
                    "candidatesTokenCount": answer_tokens,
                    "totalTokenCount": prompt_tokens + answer_tokens,
                },
                "modelVersion": MODEL_VERSION,
            }
        )


def _seed_content() -> int:
    """Financials, bars, news and filings for every seeded company; how many companies."""
    from kstock import db

    now = datetime.now(UTC).replace(hour=6, minute=30, second=0, microsecond=0)
    with db.transaction() as conn:
        companies = conn.execute("SELECT id, symbol, industry_id FROM companies ORDER BY id").fetchall()
        financials, bars, news, links, filings = [], [], [], [], []
        for n, c in enumerate(companies):
            revenue = 100_000_000_000 + n * 1_000_000_000
            for year, scale in ((2024, 1.0), (2025, 1.0 + (n % 7 - 3) / 20)):
                financials.append((c["id"], year, int(revenue * scale), int(revenue * scale * (0.05 + n % 5 / 50))))
            start = 10_000 + 100 * n
            for i in range(BARS):
                close = start * (1 + ((n % 5) - 2) / 1000 * i) + (13 if i % 2 else -13)
                bars.append((c["symbol"], now - timedelta(days=BARS - i), close, close + 50, close - 50, close))
            for k in range(5):
                news.append(
                    (f"https://bench.example/{c['id']}/{k}", f"{c['symbol']} 뉴스 {k}", now - timedelta(days=k))
                )
                links.append((f"https://bench.example/{c['id']}/{k}", c["id"], c["industry_id"]))
            for k in range(2):
                filings.append((c["id"], f"B{c['id']:07d}{k}", f"분기보고서 {k}", (now - timedelta(days=5 + k)).date()))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO financials (company_id, fiscal_year, period, revenue, operating_profit, source) "
                "VALUES (%s, %s, 'FY', %s, %s, 'simulated')",
                financials,
            )
            cur.executemany(
                "INSERT INTO ohlcv_1d (symbol, bucket, open, high, low, close, volume, amount, trade_count) "
                "VALUES (%s, %s, %s, %s, %s, %s, 1000, 0, 1)",
                bars,
            )
            cur.executemany(
                "INSERT INTO news (url, title, summary, source, published_at) VALUES (%s, %s, '요약', 'simulated', %s)",
                news,
            )
            cur.executemany(
                "INSERT INTO news_companies (news_id, company_id) SELECT id, %s FROM news WHERE url = %s",
                [(cid, url) for url, cid, _ in links],
            )
            cur.executemany(
                "INSERT INTO news_industries (news_id, industry_id) SELECT id, %s FROM news WHERE url = %s "
                "ON CONFLICT DO NOTHING",
                [(iid, url) for url, _, iid in links if iid is not None],
            )
            cur.executemany(
                "INSERT INTO reports (company_id, receipt_no, title, filed_on, url, source) "
                "VALUES (%s, %s, %s, %s, 'https://dart.example', 'simulated')",
                filings,
            )
    return len(companies)


@contextmanager
def _pointed_at(standin: _Standin) -> Iterator[None]:
    from kstock.config import reload_settings

    values = {
        "GOOGLE_API_KEY": BENCH_KEY,
        "GEMINI_BASE_URL": f"http://127.0.0.1:{standin.port}",
        "LLM_DAILY_CALL_BUDGET": "100000",
    }
    saved = {k: os.environ.get(k) for k in [*values, "ANALYSIS_QUEUE_URL"]}
    os.environ.update(values)
    os.environ.pop("ANALYSIS_QUEUE_URL", None)
    reload_settings()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reload_settings()


def bench_analysis(top: int = 100) -> dict[str, Any]:
    from kstock_local.bench.themes import throwaway_services

    with throwaway_services():
        from kstock import db
        from kstock.analysis import service
        from kstock.companies.reference import seed as seed_companies
        from kstock.db.migrate import migrate
        from kstock.llm import default_client, usage_by_feature
        from kstock.llm.calls import kst_today

        migrate(os.environ["DATABASE_URL"])
        with db.connect() as conn:
            seed_companies(conn)
        companies = _seed_content()
        day = kst_today()
        with _Standin() as standin, _pointed_at(standin):
            queued: list[dict[str, Any]] = []
            started = time.perf_counter()

            def enqueue(messages: list[dict[str, Any]]) -> int:
                queued.extend(messages)
                return len(messages)

            service.queue_nightly(day, top=top, enqueue=enqueue)
            each: list[float] = []
            models: dict[str, int] = {}
            for message in queued:
                one = time.perf_counter()
                result = service.compute(service.AnalysisRequest.model_validate(message), client=default_client())
                each.append(time.perf_counter() - one)
                models[result.model] = models.get(result.model, 0) + 1
            wall = time.perf_counter() - started
            usage = {u.feature: u for u in usage_by_feature(day)}
            requests = standin.requests
        default_client().close()
    return {
        "companies_seeded": companies,
        "analyses": len(queued),
        "wall_seconds": wall,
        "mean_ms": statistics.mean(each) * 1000 if each else 0.0,
        "p95_ms": sorted(each)[int(len(each) * 0.95)] * 1000 if each else 0.0,
        "models": models,
        "gemini_requests": requests,
        "usage": {
            name: {"calls": u.calls, "ok": u.ok, "total_tokens": u.total_tokens, "per_call": u.total_tokens / u.calls}
            for name, u in usage.items()
            if u.calls
        },
    }


def report(result: dict[str, Any]) -> list[str]:
    lines = [
        f"seeded companies: {result['companies_seeded']}; nightly analyses: {result['analyses']} "
        f"(models {result['models']}, Gemini requests {result['gemini_requests']})",
        f"nightly job, one serial worker: {result['wall_seconds']:.1f} s "
        f"(per analysis mean {result['mean_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms)",
    ]
    for name, u in result["usage"].items():
        lines.append(f"{name}: {u['calls']} calls, {u['total_tokens']} tokens, {u['per_call']:.0f} tokens per analysis")
    return lines


def add_analysis_bench(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def run(args: argparse.Namespace) -> int:
        for line in report(bench_analysis(args.top)):
            print(line)
        return 0

    parser = bench_sub.add_parser(
        "analysis", help="the nightly analysis job's duration and tokens per analysis against a Gemini stand-in"
    )
    parser.add_argument("--top", type=int, default=100, help="companies by market cap the nightly job takes")
    parser.set_defaults(func=run)


if __name__ == "__main__":
    main_parser = argparse.ArgumentParser(prog="kstock bench")
    add_analysis_bench(main_parser.add_subparsers(dest="bench", required=True))
    arguments = main_parser.parse_args()
    raise SystemExit(arguments.func(arguments))
