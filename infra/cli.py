"""The ``kstock`` command."""

from __future__ import annotations

import argparse
import sys

from kstock.config import get_settings


def _services():
    from kstock.embedded import ensure_embedded

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
    from infra.stack import run_stack

    return run_stack(api_port=args.api_port)


def cmd_reset(args: argparse.Namespace) -> int:
    from kstock.embedded import remove_home

    if not args.yes:
        print(f"this deletes {get_settings().kstock_home} (embedded database and Redis data); pass --yes")
        return 2
    remove_home()
    print("removed")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kstock", description="kstock: Korean stock analysis backend")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole local stack until Ctrl-C")
    up.add_argument("--api-port", type=int, default=None, help="HTTP API port (default 3000)")
    up.set_defaults(func=cmd_up)

    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load the reference data (idempotent)").set_defaults(func=cmd_seed)

    reset = sub.add_parser("reset", help="delete the embedded servers' data")
    reset.add_argument("--yes", action="store_true")
    reset.set_defaults(func=cmd_reset)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
