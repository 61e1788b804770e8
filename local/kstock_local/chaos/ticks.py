"""Were ticks lost or duplicated on their way to Postgres? The accumulated-volume chain says.

The KIS simulator sends, with every trade, its quantity (``volume``) and the symbol's volume so
far today (``accVolume``); all records of one publish step carry the step's final accumulated
volume. So, for a symbol streamed without interruption, the trades stored with accumulated volume
``a[i]`` must add up to exactly ``a[i] - a[i-1]``: fewer shares is a lost tick, more is a
duplicate. The tick writer's row identity (stream entry id and index) cannot show a duplicate
appended twice to the stream, or a tick dropped before it; this chain shows both.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class Chain:
    symbol: str
    ticks: int  # stored trade ticks between the two marks
    steps: int  # publish steps checked (distinct accumulated volumes after the first)
    lost_shares: int
    duplicated_shares: int
    short_steps: int  # steps with fewer shares stored than the accumulated volume grew
    long_steps: int  # steps with more
    resets: int  # the accumulated volume went down (the simulated session rolled over): not judged

    @property
    def intact(self) -> bool:
        return self.lost_shares == 0 and self.duplicated_shares == 0


def _order(stream_id: str) -> tuple[int, int, int]:
    """Stream order of a row: ``{ms}-{seq}:{index in the entry}``."""
    entry, _, index = stream_id.partition(":")
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0), int(index or 0)


def stored_acc_volume(database_url: str, symbols: list[str]) -> dict[str, int]:
    """The highest accumulated volume stored per symbol (KIS trades only)."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT symbol, max(acc_volume) FROM stock_ticks WHERE source = 'ws' AND symbol = ANY(%s) GROUP BY symbol",
            (symbols,),
        ).fetchall()
    return {str(symbol): int(acc) for symbol, acc in rows if acc is not None}


def chain(database_url: str, symbol: str, low: int, high: int) -> Chain:
    """Judge the stored trades of ``symbol`` with accumulated volume in ``[low, high]``."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT volume, acc_volume, stream_id FROM stock_ticks "
            "WHERE source = 'ws' AND symbol = %s AND acc_volume BETWEEN %s AND %s",
            (symbol, low, high),
        ).fetchall()
    rows.sort(key=lambda row: _order(str(row[2])))
    return judge(symbol, [(int(volume), int(acc)) for volume, acc, _ in rows])


def judge(symbol: str, trades: list[tuple[int, int]]) -> Chain:
    """``trades``: (volume, accumulated volume) in stream order."""
    shares: dict[int, int] = {}
    order: list[int] = []
    for volume, acc in trades:
        if acc not in shares:
            order.append(acc)
            shares[acc] = 0
        shares[acc] += volume
    lost = duplicated = short = long = resets = steps = 0
    for previous, current in zip(order, order[1:], strict=False):
        if current < previous:
            resets += 1
            continue
        steps += 1
        missing = (current - previous) - shares[current]
        if missing > 0:
            lost, short = lost + missing, short + 1
        elif missing < 0:
            duplicated, long = duplicated - missing, long + 1
    return Chain(symbol, len(trades), steps, lost, duplicated, short, long, resets)
