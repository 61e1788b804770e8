"""``kstock sim-kis`` and ``kstock bench kis-parse|kis-sim``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kstock_local.kis_sim import KisSimulator


def cmd_sim_kis(args: argparse.Namespace) -> int:
    from kstock_local.kis_sim import SimulatorConfig, serve_forever
    from kstock_local.kis_sim.credentials import simulator_environment

    config = SimulatorConfig.from_settings(
        host=args.host,
        rest_port=args.rest_port,
        ws_port=args.ws_port,
        seed=args.seed,
        trades_per_second=args.rate,
        always_open=args.always_open,
        pingpong_interval=args.pingpong_interval,
        max_subscriptions=args.max_subscriptions,
        extra_fields=args.extra_fields,
        rest_rate_per_second=args.rest_rate,
        token_issue_interval=args.token_interval,
        universe=args.universe,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def ready(sim: KisSimulator) -> None:
        if args.ready_json:
            print(json.dumps({"rest_url": sim.rest_url, "ws_url": sim.ws_url}), flush=True)
        else:
            mode = "always open" if config.always_open else "KRX hours"
            # what a kstock process (a function, the streamer) needs to use it instead of KIS
            exports = "\n".join(
                f"  export {name}={value}" for name, value in simulator_environment(sim.rest_url, sim.ws_url).items()
            )
            print(
                f"KIS simulator ({mode}, {config.trades_per_second:g} trades/s, seed {config.seed})\n"
                f"  REST       {sim.rest_url}\n  WebSocket  {sim.ws_url}\n"
                f"kstock reaches it with (placeholder credentials, not secrets):\n{exports}\n  Ctrl-C stops.",
                flush=True,
            )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_forever(config, stop, ready)

    asyncio.run(main())
    return 0


def cmd_bench_kis_parse(args: argparse.Namespace) -> int:
    from kstock_local.bench.kis import bench_parse

    bench_parse(records=args.records, batches=tuple(args.batch))
    return 0


def cmd_bench_kis_sim(args: argparse.Namespace) -> int:
    from kstock_local.bench.kis import bench_sim

    bench_sim(rate=args.rate, seconds=args.seconds, sessions=args.sessions)
    return 0


def add_kis_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("sim-kis", help="run the local KIS simulator (REST 9443, WebSocket 21000)")
    sim.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    sim.add_argument("--rest-port", type=int, default=None, help="REST port (default 9443; 0 = any)")
    sim.add_argument("--ws-port", type=int, default=None, help="WebSocket port (default 21000; 0 = any)")
    sim.add_argument("--seed", type=int, default=None, help="market seed (reproducible prices and history)")
    sim.add_argument("--rate", type=float, default=None, help="trade records per second across all symbols")
    hours = sim.add_mutually_exclusive_group()
    hours.add_argument(
        "--always-open",
        dest="always_open",
        action="store_true",
        default=None,
        help="trade at any hour (demo mode, the default of `make up`)",
    )
    hours.add_argument(
        "--market-hours", dest="always_open", action="store_false", help="trade only in KRX regular hours"
    )
    sim.add_argument("--pingpong-interval", type=float, default=None, help="seconds between PINGPONGs")
    sim.add_argument("--max-subscriptions", type=int, default=None, help="registrations per session (41)")
    sim.add_argument("--extra-fields", type=int, default=None, help="append N unknown fields per record (drift)")
    sim.add_argument("--rest-rate", type=int, default=None, help="REST calls/s per app key (20 real, 2 mock)")
    sim.add_argument("--token-interval", type=float, default=None, help="seconds between token issues (60)")
    sim.add_argument("--universe", type=int, default=None, help="trade only the first N companies (benchmarks)")
    sim.add_argument("--ready-json", action="store_true", help="print the URLs as one JSON line when ready")
    sim.set_defaults(func=cmd_sim_kis)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    parse = bench_sub.add_parser("kis-parse", help="H0STCNT0 frame parsing, records/s on one core")
    parse.add_argument("--records", type=int, default=400_000, help="records parsed per batch size")
    parse.add_argument("--batch", type=int, nargs="+", default=[1, 4, 10], help="records per frame")
    parse.set_defaults(func=cmd_bench_kis_parse)
    simb = bench_sub.add_parser("kis-sim", help="the simulator's sustained records/s to WebSocket clients")
    simb.add_argument("--rate", type=float, default=5_000, help="simulator trade rate asked (records/s)")
    simb.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    simb.add_argument("--sessions", type=int, default=6, help="client sessions (one app key, 41 symbols each)")
    simb.set_defaults(func=cmd_bench_kis_sim)
    add_streamer_benches(bench_sub)
    from kstock_local.bench.api import add_api_bench

    add_api_bench(bench_sub)
    from kstock_local.bench.fanout import add_fanout_bench

    add_fanout_bench(bench_sub)
    from kstock_local.bench.startup import add_startup_bench

    add_startup_bench(bench_sub)
    from kstock_local.cli.content import add_news_bench

    add_news_bench(bench_sub)
    from kstock_local.bench.scan import add_scan_bench

    add_scan_bench(bench_sub)
    from kstock_local.bench.themes import add_themes_bench  # issue 14

    add_themes_bench(bench_sub)
    from kstock_local.bench.analysis import add_analysis_bench  # issue 16

    add_analysis_bench(bench_sub)
    from kstock_local.bench.cold_start import add_cold_start_bench  # issue 12

    add_cold_start_bench(bench_sub)


def add_streamer_benches(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def run_ingest(args: argparse.Namespace) -> int:
        from kstock_local.bench.streamer import bench_ingest

        bench_ingest(rate=args.rate, seconds=args.seconds)
        return 0

    def run_writer(args: argparse.Namespace) -> int:
        from kstock_local.bench.streamer import bench_tick_writer

        bench_tick_writer(rows=args.rows, batch=args.batch)
        return 0

    ingest = bench_sub.add_parser("ingest", help="simulator -> streamer -> Redis: ticks/s published, streamer RSS")
    ingest.add_argument("--rate", type=float, default=30_000, help="simulator trades/s asked (41 symbols)")
    ingest.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    ingest.set_defaults(func=run_ingest)
    writer = bench_sub.add_parser("tick-writer", help="Redis stream -> stock_ticks: rows/s")
    writer.add_argument("--rows", type=int, default=500_000, help="ticks in the stream")
    writer.add_argument("--batch", type=int, default=5000, help="stream entries per batch")
    writer.set_defaults(func=run_writer)
