"""``python -m kstock_local.naver_sim [--host H] [--port P] [--seed S]``: serve the Naver stand-in until interrupted.

Prints ``NAVER_API_URL=<url>`` once listening, for a supervisor to read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from kstock_local.naver_sim.server import NaverStandIn, serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kstock_local.naver_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9080)
    parser.add_argument("--seed", type=int, default=20250714)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    standin = NaverStandIn(host=args.host, port=args.port, seed=args.seed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(standin, ready=lambda s: print(f"NAVER_API_URL={s.url}", flush=True)))


if __name__ == "__main__":
    main()
