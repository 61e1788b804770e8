"""Operators' commands for issue 13's content: ``kstock news ingest``, ``kstock dart sync``,
``kstock llm usage``, the stand-ins ``kstock sim-naver`` / ``kstock sim-dart`` (what `kstock up`
starts when no key is set) and ``kstock bench news``.

``news ingest`` and ``dart sync`` run the workers' own code in this process, with progress. Against
a running stack they use its database and stand-ins (``kstock env``'s variables; one already set in
this shell wins, so ``NAVER_API_URL=... kstock news ingest`` reaches a proxy); without one, the
configured database (or the embedded one) and the configured base URLs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from datetime import date
from typing import Any

from kstock.config import reload_settings

# What a stack run elsewhere tells these commands (kstock_local.stack writes them into stack.json).
_STACK_VARIABLES = ("DATABASE_URL", "REDIS_URL", "KSTOCK_EMBEDDED", "NAVER_API_URL", "DART_API_URL", "DART_API_KEY")
DART_STAND_IN_KEY = "kstock-local-standin"  # the stand-in wants a crtfc_key, like OpenDART; any will do


def use_stack_or_embedded() -> str:
    """Point this process at the running stack (or the configured / embedded database); says which."""
    from kstock_local.stack_state import read_state

    state = read_state()
    if state is not None:
        for name in _STACK_VARIABLES:
            if name in state.environment and name not in os.environ:
                os.environ[name] = state.environment[name]
        reload_settings()
        return "the running stack"
    from kstock.config import get_settings
    from kstock_local.embedded import ensure_embedded

    if get_settings().database_url is None:
        ensure_embedded()
        return "the embedded database (no stack running)"
    return "DATABASE_URL (no stack running)"


def _bar(done: int, total: int) -> str:
    from kstock_local.cli.backfill import bar

    return bar(done, total)


# -- kstock news ingest -------------------------------------------------------------------------------


def cmd_news_ingest(args: argparse.Namespace) -> int:
    where = use_stack_or_embedded()
    from kstock import db
    from kstock.config import get_settings
    from kstock.datastatus import NEWS, mark_refreshed
    from kstock.news.errors import NaverError, NaverQuotaExceeded
    from kstock.news.ingest import ingest, queries_for
    from kstock.news.naver import NaverNewsClient

    with db.read() as conn:
        queries = queries_for(conn, symbols=args.symbols, industries=not args.companies_only)
    if not queries:
        print("kstock news ingest: no company matches " + " ".join(args.symbols or []), file=sys.stderr)
        return 1
    print(f"news: {len(queries)} queries against {get_settings().naver_api_url}, into {where}")
    try:
        client = NaverNewsClient.from_settings()
    except NaverError as exc:
        print(f"kstock news ingest: {exc}", file=sys.stderr)
        return 1
    stored = fetched = failed = 0
    with client:
        for done, query in enumerate(queries, 1):
            try:
                result = ingest(query, client)
            except NaverQuotaExceeded as exc:
                print(f"\nstopped: {exc}", file=sys.stderr)
                return 2
            except NaverError as exc:
                failed += 1
                print(f"\n{query.kind} {query.id} ({query.query}): {exc}", file=sys.stderr)
                continue
            if query.kind == "company":
                with db.transaction() as conn:
                    mark_refreshed(conn, [query.id], NEWS)
            stored, fetched = stored + result.stored, fetched + result.fetched
            print(f"\r{_bar(done, len(queries))} {stored} new articles", end="", flush=True)
    print(f"\ndone: {fetched} fetched, {stored} new, {client.calls} calls, {failed} failed queries")
    return 0 if not failed else 2


# -- kstock dart sync ---------------------------------------------------------------------------------


def cmd_dart_sync(args: argparse.Namespace) -> int:
    where = use_stack_or_embedded()
    from kstock.config import get_settings
    from kstock.dart.client import DartClient
    from kstock.dart.errors import DartError
    from kstock.dart.sync import SyncProgress, sync_all

    def progress(event: SyncProgress) -> None:
        suffix = f" {event.symbol}" if event.symbol else ""
        end = "\n" if event.done >= event.total else ""
        print(f"\r{event.kind:<10} {_bar(event.done, event.total)}{suffix:<8}", end=end, flush=True)

    print(f"DART: {get_settings().dart_api_url}, into {where}")
    try:
        with DartClient.from_settings() as client:
            results = sync_all(
                client, symbols=args.symbols, years=args.years, refresh_corp_codes=args.corp_codes, progress=progress
            )
    except DartError as exc:
        print(f"\nkstock dart sync: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for result in results:
        missing = f", no corp code for {' '.join(result.missing)}" if result.missing else ""
        print(
            f"{result.kind}: {result.companies} companies, {result.fetched} fetched, {result.changed} changed, "
            f"{result.calls} calls{missing}"
        )
    return 0


# -- kstock llm usage ---------------------------------------------------------------------------------


def cmd_llm_usage(args: argparse.Namespace) -> int:
    use_stack_or_embedded()
    from kstock.config import get_settings
    from kstock.llm import usage_by_feature

    day = args.day or _kst_today()
    rows = usage_by_feature(day)
    print(f"LLM calls on {day} (KST), budget {get_settings().llm_daily_call_budget} calls/day")
    if not rows:
        print("  none")
        return 0
    print(
        f"  {'feature':<24} {'calls':>6} {'ok':>5} {'failed':>6} {'refused':>7} {'prompt':>10} {'answer':>10} "
        f"{'thinking':>9} {'total':>10}"
    )
    for r in rows:
        print(
            f"  {r.feature:<24} {r.calls:>6} {r.ok:>5} {r.failed:>6} {r.refused:>7} {r.prompt_tokens:>10} "
            f"{r.answer_tokens:>10} {r.thinking_tokens:>9} {r.total_tokens:>10}"
        )
    return 0


def _kst_today() -> date:
    from datetime import datetime

    from kstock.market.calendar import KST

    return datetime.now(KST).date()


# -- stand-ins ----------------------------------------------------------------------------------------


def _serve(main: Any) -> int:
    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def cmd_sim_naver(args: argparse.Namespace) -> int:
    from kstock_local.naver_sim import NaverStandIn, serve_forever
    from kstock_local.settings import get_local_settings

    settings = get_local_settings()
    standin = NaverStandIn(
        host=args.host,
        port=settings.naver_sim_port if args.port is None else args.port,
        seed=settings.kis_sim_seed if args.seed is None else args.seed,
    )
    return _serve(
        lambda stop: serve_forever(
            standin, stop, lambda s: print(f"Naver news stand-in (simulated news)\n  NAVER_API_URL={s.url}", flush=True)
        )
    )


def cmd_sim_dart(args: argparse.Namespace) -> int:
    from kstock_local.dart_sim import DartStandIn, DartStandInConfig
    from kstock_local.settings import get_local_settings
    from kstock_local.standin import serve_forever

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": get_local_settings().dart_sim_port if args.port is None else args.port,
    }
    if args.seed is not None:
        overrides["seed"] = args.seed
    config = DartStandInConfig.from_settings(**overrides)
    return _serve(
        lambda stop: serve_forever(
            DartStandIn(config),
            stop,
            lambda s: print(f"OpenDART stand-in (simulated filings and figures)\n  DART_API_URL={s.url}", flush=True),
        )
    )


# -- kstock bench news --------------------------------------------------------------------------------


def cmd_bench_news(args: argparse.Namespace) -> int:
    where = use_stack_or_embedded()
    from kstock import db
    from kstock.companies.reference import seed
    from kstock.config import get_settings
    from kstock.db.migrate import migrate

    settings = get_settings()
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    migrate(url)
    with db.connect(url) as conn:
        seed(conn)
    from kstock_local.bench.news import run

    print(f"news ingestion against a fresh Naver stand-in, into {where}")
    for line in run(companies=args.companies).lines():
        print(line)
    return 0


# -- the parsers --------------------------------------------------------------------------------------


def add_content_commands(sub: Any) -> None:
    news = sub.add_parser("news", help="news from Naver (or its stand-in)")
    news_sub = news.add_subparsers(dest="news", required=True)
    ingest = news_sub.add_parser("ingest", help="fetch, dedupe, link and store news now (the worker's code)")
    ingest.add_argument("--symbols", nargs="+", help="company codes (default: every company and industry)")
    ingest.add_argument("--companies-only", action="store_true", help="skip the industry queries")
    ingest.set_defaults(func=cmd_news_ingest)

    dart = sub.add_parser("dart", help="filings and financials from OpenDART (or its stand-in)")
    dart_sub = dart.add_subparsers(dest="dart", required=True)
    sync = dart_sub.add_parser("sync", help="corp codes (when none), filings and key accounts, with progress")
    sync.add_argument("--symbols", nargs="+", help="company codes (default: every company with a corp code)")
    sync.add_argument("--years", type=int, default=3, help="business years of key accounts (default 3)")
    sync.add_argument("--corp-codes", action="store_true", help="refresh the corp codes even when stored")
    sync.set_defaults(func=cmd_dart_sync)

    llm = sub.add_parser("llm", help="the Gemini call log")
    llm_sub = llm.add_subparsers(dest="llm", required=True)
    usage = llm_sub.add_parser("usage", help="calls and tokens per feature on a KST day")
    usage.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: today, KST)")
    usage.set_defaults(func=cmd_llm_usage)

    for name, func, what, port in (
        ("sim-naver", cmd_sim_naver, "Naver news search", "NAVER_SIM_PORT, 9080"),
        ("sim-dart", cmd_sim_dart, "OpenDART", "DART_SIM_PORT, 9081"),
    ):
        sim = sub.add_parser(name, help=f"run the local {what} stand-in (simulated content)")
        sim.add_argument("--host", default="127.0.0.1", help="bind address")
        sim.add_argument("--port", type=int, default=None, help=f"port (default {port}; 0 = any)")
        sim.add_argument("--seed", type=int, default=None, help="content seed (default: the KIS simulator's)")
        sim.set_defaults(func=func)


def add_news_bench(bench_sub: Any) -> None:
    bench = bench_sub.add_parser("news", help="news ingestion articles/s and keyword extraction docs/s")
    bench.add_argument("--companies", type=int, default=30, help="company queries ingested (default 30)")
    bench.set_defaults(func=cmd_bench_news)
