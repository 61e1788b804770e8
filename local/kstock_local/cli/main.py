"""The ``kstock`` command."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kstock.config import get_settings
from kstock_local.paths import TEMPLATE_PATH
from kstock_local.settings import get_local_settings

if TYPE_CHECKING:
    from kstock_local.embedded import Services


def _services() -> Services:
    from kstock_local.embedded import ensure_embedded

    return ensure_embedded()


def cmd_migrate(_args: argparse.Namespace) -> int:
    from kstock.db.migrate import migrate

    applied = migrate(_services().database_url)
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else " (up to date)"))
    return 0


def cmd_seed(_args: argparse.Namespace) -> int:
    from kstock import db
    from kstock.companies.reference import seed

    with db.connect(_services().database_url) as conn:
        result = seed(conn)
    print(f"seeded {result.companies} companies, {result.industries} industries, {result.indices} indices")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from kstock_local.stack import StackOptions, run_stack

    if args.fanout_workers < 1:
        print("kstock up: --fanout-workers is 1 (the fan-out inside the streamer) or more", file=sys.stderr)
        return 2
    if args.kis_keys < 1:
        print("kstock up: --kis-keys is 1 or more (simulator app keys, one ingest streamer each)", file=sys.stderr)
        return 2
    options = StackOptions(
        template=args.template,
        fast_clock=args.fast_clock,
        localstack=args.localstack,
        fanout_workers=args.fanout_workers,
        kis_keys=args.kis_keys,
    )
    return run_stack(options)


def cmd_invoke(args: argparse.Namespace) -> int:
    from kstock_local.cli.invoke import run_invoke

    return run_invoke(args.logical_id, args.event, args.template)


def cmd_provision(args: argparse.Namespace) -> int:
    from kstock_local.cloud.provision import main as provision_main

    settings = get_settings()
    endpoint = args.endpoint or settings.aws_endpoint_url
    if endpoint is None and not args.localstack:
        endpoint = "http://127.0.0.1:4566"
    argv = ["--template", str(args.template), "--region", settings.aws_region]
    argv += ["--endpoint", endpoint] if endpoint else []
    return provision_main(argv + (["--localstack"] if args.localstack else []))


def cmd_env(args: argparse.Namespace) -> int:
    from kstock_local.stack_state import read_state, secrets

    state = read_state()
    if state is None:
        print("kstock env: no running stack (start one with `make up` or `kstock up`)", file=sys.stderr)
        return 1
    # issue 17: the JWT key only when asked for (stack.json no longer holds it)
    shown = {**state.environment, **(secrets() if getattr(args, "secrets", False) else {})}
    for name, value in shown.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from kstock_local.cli.backfill import run_backfill

    return run_backfill(args.symbols, args.days, args.wait)


def cmd_reset(args: argparse.Namespace) -> int:
    from kstock_local.embedded import remove_home

    if not args.yes:
        print(f"this deletes {get_local_settings().kstock_home} (embedded database and Redis data); pass --yes")
        return 2
    remove_home()
    print("removed")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kstock", description="kstock: Korean stock analysis backend")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole local stack until Ctrl-C")
    up.add_argument("--template", type=Path, default=TEMPLATE_PATH, help="SAM template to run")
    up.add_argument(
        "--fast-clock", type=float, default=1.0, metavar="N", help="run schedules N times faster than real time (demos)"
    )
    up.add_argument(
        "--localstack",
        action="store_true",
        help="use a running LocalStack (LOCALSTACK_HOST, default localhost:4566) as AWS instead of a moto child",
    )
    up.add_argument(
        "--fanout-workers",
        type=int,
        default=1,
        metavar="N",
        help="WebSocket fan-out processes: 1 runs it inside the streamer; N > 1 starts N workers sharing the "
        "connections beside a streamer with its fan-out off",
    )
    up.add_argument(
        "--kis-keys",
        type=int,
        default=1,
        metavar="N",
        help="KIS simulator app keys (41 live symbols each): N > 1 gives the simulator N placeholder pairs "
        "(KIS_APP_KEYS) and starts one ingest streamer per key; with real keys, KIS_APP_KEYS' pairs decide",
    )
    up.set_defaults(func=cmd_up)

    invoke = sub.add_parser("invoke", help="run one function of the template with an event")
    invoke.add_argument("logical_id", help="the function's logical id in the template")
    invoke.add_argument("--event", help="event JSON file, or - for standard input (default: {})")
    invoke.add_argument("--template", type=Path, default=TEMPLATE_PATH)
    invoke.set_defaults(func=cmd_invoke)

    provision = sub.add_parser("provision", help="create the template's queues and tables on an AWS endpoint")
    provision.add_argument("--endpoint", help="default: AWS_ENDPOINT_URL, else http://127.0.0.1:4566")
    provision.add_argument(
        "--localstack", action="store_true", help="the endpoint is LocalStack: use localstack-client"
    )
    provision.add_argument("--template", type=Path, default=TEMPLATE_PATH)
    provision.set_defaults(func=cmd_provision)

    env_parser = sub.add_parser("env", help="print the running stack's settings as export lines")
    env_parser.add_argument("--secrets", action="store_true", help="also print the JWT signing key (issue 17)")
    env_parser.set_defaults(func=cmd_env)

    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load the reference data (idempotent)").set_defaults(func=cmd_seed)

    backfill = sub.add_parser("backfill", help="load daily history from KIS for the running stack")
    backfill.add_argument("--symbols", nargs="+", help="codes to load (default: every seeded company)")
    backfill.add_argument("--days", type=int, default=730, help="calendar days of history (default 730)")
    backfill.add_argument("--wait", type=float, default=120.0, help="give up after this long without progress")
    backfill.set_defaults(func=cmd_backfill)

    reset = sub.add_parser("reset", help="delete the embedded servers' data")
    reset.add_argument("--yes", action="store_true")
    reset.set_defaults(func=cmd_reset)

    from kstock_local.cli.kis import add_kis_commands

    add_kis_commands(sub)
    from kstock_local.cli.content import add_content_commands

    add_content_commands(sub)
    from kstock_local.cli.themes import add_themes_commands

    add_themes_commands(sub)
    from kstock_local.cli.listings import add_listings_commands

    add_listings_commands(sub)
    from kstock_local.chaos.cli import add_chaos_command  # issue 17: the fault suite

    add_chaos_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
