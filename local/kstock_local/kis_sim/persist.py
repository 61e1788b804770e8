"""The simulated market's day survives a simulator restart (``kstock up`` restarts it after a crash).

Without this a restart re-warmed the day from the seed and prices jumped (000660 from 193,000 to
168,300 in 9 s), which real KIS never does. The state of every security (price, the day's
open/high/low and their times, cumulative volume and value, trade counts) and of every index is
written to a small JSON file every few seconds and when the simulator stops, and read back at
start when it belongs to the same seed and the same session day. Another day's file is ignored:
the market then opens a new day from the seed, as it always did.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from kstock_local.kis_sim.market import IndexState, Market

log = logging.getLogger("kstock_local.kis_sim.persist")

VERSION = 2  # 2: a security's state is a list in the order of "fields"
SECURITY_FIELDS = (
    "price",
    "open",
    "high",
    "low",
    "open_time",
    "high_time",
    "low_time",
    "acc_volume",
    "acc_value",
    "sell_count",
    "buy_count",
    "sell_qty",
    "buy_qty",
    "last_side",
    "prev_close",  # a check, not restored: the same security of the same seeded day
)
RESTORED_FIELDS = SECURITY_FIELDS[:-1]
INDEX_FIELDS = ("open", "high", "low")


def snapshot(market: Market) -> dict[str, Any]:
    """The state as plain data: taken on the simulator's loop (about 10 ms for 2,500 names), so
    that :func:`write` can encode and write it on another thread."""
    securities = list(market.stocks.values()) + list(market.elws.values())
    return {
        "version": VERSION,
        "seed": market.seed,
        "session_day": market.session_day.isoformat(),
        "fields": SECURITY_FIELDS,
        "securities": {s.symbol: [getattr(s, name) for name in SECURITY_FIELDS] for s in securities if s.acc_volume},
        "indices": {i.code: {name: getattr(i, name) for name in INDEX_FIELDS} for i in market.indices.values()},
    }


def write(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (a crash mid-write leaves the previous file whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, separators=(",", ":")), encoding="utf-8")
    os.replace(temporary, path)


def save(market: Market, path: Path) -> None:
    write(path, snapshot(market))


def restore(market: Market, path: Path) -> int:
    """Resume the day from ``path``; the number of securities restored (0: nothing applied)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        log.warning("KIS simulator state %s unreadable (%s): starting the day from the seed", path, exc)
        return 0
    if not _same_day(market, state):
        log.info("KIS simulator state %s is of another day or seed: starting the day from the seed", path)
        return 0
    restored = sum(_apply_security(market, symbol, saved) for symbol, saved in state["securities"].items())
    for code, saved in state.get("indices", {}).items():
        index = market.indices.get(code)
        if index is not None:
            _apply_index(index, saved)
    market.update_indices()
    log.info("KIS simulator resumed %d securities from %s", restored, path)
    return restored


def _same_day(market: Market, state: object) -> bool:
    return (
        isinstance(state, dict)
        and state.get("version") == VERSION
        and state.get("seed") == market.seed
        and state.get("session_day") == market.session_day.isoformat()
        and state.get("fields") == list(SECURITY_FIELDS)
        and isinstance(state.get("securities"), dict)
    )


def _apply_security(market: Market, symbol: str, values: list[Any]) -> bool:
    sec = market.security(symbol)
    saved = dict(zip(SECURITY_FIELDS, values, strict=True))
    if sec is None or saved["prev_close"] != sec.prev_close or not sec.lower <= int(saved["price"]) <= sec.upper:
        return False
    for name in RESTORED_FIELDS:
        setattr(sec, name, saved[name])
    sec.target = float(sec.price)  # the walk carries on from here, not back to the seeded anchor
    return True


def _apply_index(index: IndexState, saved: dict[str, Any]) -> None:
    for name in INDEX_FIELDS:
        setattr(index, name, float(saved[name]))
