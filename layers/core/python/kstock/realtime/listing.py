"""Which well-formed codes name something that trades (issue 17, findings 5 and polling).

A code can follow the KRX rules and still name nothing (``999999``): it must not count as demand
for a KIS slot nor be sent to KIS. Shares, ETFs and ETNs must be in ``companies``. ELW codes are
accepted on their shape: thousands are listed and retired every month, more than the reference
listing keeps, and KIS itself answers for them.
"""

from __future__ import annotations

from collections.abc import Iterable

from kstock import db
from kstock.market.codes import InstrumentKind, classify


def unknown(codes: Iterable[str]) -> list[str]:
    """The codes (already valid in shape) that name no listed instrument, in the order given."""
    ordered = list(dict.fromkeys(codes))
    checked = [code for code in ordered if classify(code).kind is not InstrumentKind.ELW]
    if not checked:
        return []
    with db.read() as conn:
        rows = conn.execute("SELECT symbol FROM companies WHERE symbol = ANY(%s)", (checked,)).fetchall()
    listed = {str(row["symbol"]) for row in rows}
    return [code for code in checked if code not in listed]
