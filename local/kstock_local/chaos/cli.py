"""``kstock chaos [--steps 1,2,...]``: the fault suite as a command, with the issue's figures."""

from __future__ import annotations

import argparse
from typing import Any

from kstock_local.chaos.context import Options
from kstock_local.chaos.report import render


def _steps(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"steps are numbers 1-6 separated by commas, not {text!r}") from exc
    if not steps or not set(steps) <= set(range(1, 7)):
        raise argparse.ArgumentTypeError(f"steps are numbers 1-6, not {text!r}")
    return steps


def cmd_chaos(args: argparse.Namespace) -> int:
    from kstock_local.chaos.harness import run_steps

    options = Options(
        steps=args.steps,
        kis_hang_seconds=args.kis_hang,
        postgres_stop_seconds=args.postgres_stop,
        flood_sockets=args.flood_sockets,
        flood_hold_seconds=args.flood_hold,
        login_flood_seconds=args.login_flood,
    )
    results = run_steps(options, keep=args.keep)
    print()
    print(render(results))
    failed = [r.number for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)}/{len(results)} steps passed" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


def add_chaos_command(sub: Any) -> None:
    """Register ``kstock chaos`` on the CLI's subparsers."""
    chaos = sub.add_parser(
        "chaos",
        help="the fault suite: kill Redis and the streamer, hang KIS, stop Postgres, floods (its own stack)",
        description="Starts its own `kstock up` (temporary home, free ports), subscribes WebSocket clients, "
        "injects each fault and prints every step's figures with PASS/FAIL; exit 1 on any failure.",
    )
    chaos.add_argument("--steps", type=_steps, default=(1, 2, 3, 4, 5, 6), help="which steps, e.g. 1,2,5 (default all)")
    chaos.add_argument("--kis-hang", type=float, default=60.0, metavar="S", help="seconds KIS hangs (step 3)")
    chaos.add_argument("--postgres-stop", type=float, default=30.0, metavar="S", help="seconds Postgres stops (step 4)")
    chaos.add_argument("--flood-sockets", type=int, default=300, metavar="N", help="sockets of the flood (step 5)")
    chaos.add_argument("--flood-hold", type=float, default=20.0, metavar="S", help="seconds the flood holds (step 5)")
    chaos.add_argument("--login-flood", type=float, default=15.0, metavar="S", help="seconds of login flood (step 6)")
    chaos.add_argument("--keep", action="store_true", help="keep the stack's temporary directory and log")
    chaos.set_defaults(func=cmd_chaos)
