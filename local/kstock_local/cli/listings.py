"""``kstock listings sync``: the exchange's full listing from the stock master files KIS publishes.

Downloads ``kospi_code.mst.zip`` and ``kosdaq_code.mst.zip`` from ``KIS_MASTER_URL`` and upserts
names, market, kind (stock / ETF / ETN / ELW), halt and warning flags and listed shares into the
companies table (:mod:`kstock.listings.sync`). Against a running stack it uses the stack's database
and, unless ``KIS_MASTER_URL`` is set in this shell, the stack's master files (the simulator's, when
the stack runs one); without a stack, the configured (or embedded) database and KIS's real files.
"""

from __future__ import annotations

import argparse
import os
import sys

from kstock.config import reload_settings


def _master_url_of_stack() -> None:
    """The running stack's KIS_MASTER_URL, unless this shell names one (a proxy, the real KIS)."""
    from kstock_local.stack_state import read_state

    state = read_state()
    if state is not None and "KIS_MASTER_URL" in state.environment and "KIS_MASTER_URL" not in os.environ:
        os.environ["KIS_MASTER_URL"] = state.environment["KIS_MASTER_URL"]
        reload_settings()


def cmd_listings_sync(args: argparse.Namespace) -> int:
    from kstock_local.cli.content import use_stack_or_embedded

    where = use_stack_or_embedded()
    _master_url_of_stack()
    from kstock import db
    from kstock.config import get_settings
    from kstock.listings.errors import ListingError
    from kstock.listings.sync import sync

    url = args.url or get_settings().kis_master_url
    print(f"listings: KIS master files from {url}, into {where}")
    try:
        with db.connect() as conn:
            result = sync(conn, url)
    except ListingError as exc:
        print(f"kstock listings sync: {exc} (nothing was written)", file=sys.stderr)
        return 1
    counts = result.summary()
    print(
        f"{counts['records']} records: {counts['inserted']} inserted, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['skipped']} skipped (funds, warrants, rights), "
        f"{counts['absent']} seeded companies absent from the files (kept)"
    )
    return 0


def add_listings_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listings = sub.add_parser("listings", help="the exchange's listing from KIS's stock master files")
    listings_sub = listings.add_subparsers(dest="listings_command", required=True)
    sync = listings_sub.add_parser(
        "sync",
        help="upsert names, market, kind, halt/warning flags and listed shares from kospi/kosdaq_code.mst",
    )
    sync.add_argument("--url", help="base URL of the master files (default: KIS_MASTER_URL)")
    sync.set_defaults(func=cmd_listings_sync)
