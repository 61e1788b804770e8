"""Upsert the exchange's listing (KIS stock master files) into ``companies``.

What a sync owns, per company: the name (KRX's short name, as KIS and HTS show it), market, kind,
ISIN, security group, the halt flag (거래정지), the designations (관리종목, 시장경고) with
``is_warning`` as their union (:attr:`MasterRecord.flagged`), and listed shares. The master counts
shares in thousands (floored), so listed shares change only when the thousands differ: the exact
figure KIS's price answer stores (MarketDataFunction) is not rounded away by every sync.

What it leaves alone: industry, homepage, description and listing date of a known company (the
seed's KIND data is richer), and market caps (MarketDataFunction's). A company the files do not list
is counted (``absent``), never deleted: its history stays, and delisting is an operator's decision.
New companies get the industry ``미分류`` (unclassified): the master files carry only KRX index sector
codes, not the KSIC 업종 the seed uses, and mixing the two vocabularies would split industries.

Records of kind OTHER (beneficiary certificates, warrants, rights) and codes kstock cannot handle
are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from kstock.listings.master import Kind, Market, MarketWarning, MasterRecord, parse_master
from kstock.listings.source import download_master
from kstock.market.codes import InvalidCode, classify

UNCLASSIFIED = "미분류"
MARKETS: tuple[Market, ...] = ("KOSPI", "KOSDAQ")


@dataclass
class SyncResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # kind OTHER, or a code kstock does not handle
    absent: int = 0  # in companies, not in the files
    records: int = 0
    changed_symbols: list[str] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "records": self.records,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "absent": self.absent,
        }


# The columns a sync owns, in the order of _row().
_OWNED = (
    "name",
    "market",
    "kind",
    "standard_code",
    "security_group",
    "is_halted",
    "is_warning",
    "is_administrative",
    "market_warning",
    "listed_shares",
)


def _row(record: MasterRecord) -> tuple[Any, ...]:
    warning = None if record.warning is MarketWarning.NONE else str(record.warning)
    return (
        record.name,
        record.market,
        str(record.kind),
        record.standard_code,
        record.group,
        record.halted,
        record.flagged,
        record.administrative,
        warning,
        record.listed_shares,
    )


def _same(current: dict[str, Any], wanted: tuple[Any, ...]) -> bool:
    for column, value in zip(_OWNED, wanted, strict=True):
        have = current[column]
        if column == "listed_shares":
            if (have or 0) // 1000 != value // 1000:
                return False
        elif have != value:
            return False
    return True


def usable(records: Iterable[MasterRecord]) -> tuple[dict[str, MasterRecord], int]:
    """The records a sync applies, by canonical code (the first wins), and how many were skipped."""
    kept: dict[str, MasterRecord] = {}
    skipped = 0
    for record in records:
        try:
            code = classify(record.short_code).code
        except InvalidCode:
            skipped += 1
            continue
        if record.kind is Kind.OTHER or code in kept:
            skipped += 1
            continue
        kept[code] = record
    return kept, skipped


def apply(conn: psycopg.Connection[Any], records: Iterable[MasterRecord]) -> SyncResult:
    """Upsert ``records`` into ``companies`` in one transaction."""
    listed = list(records)
    kept, skipped = usable(listed)
    result = SyncResult(records=len(listed), skipped=skipped)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT id, symbol, {', '.join(_OWNED)} FROM companies")
        known = {row["symbol"]: row for row in cur.fetchall()}
        result.absent = len(known.keys() - kept.keys())
        updates, inserts = [], []
        for code, record in kept.items():
            wanted = _row(record)
            current = known.get(code)
            if current is None:
                inserts.append((code, record))
            elif _same(current, wanted):
                result.unchanged += 1
            else:
                updates.append((*wanted, current["id"]))
                result.changed_symbols.append(code)
                result.updated_ids.append(int(current["id"]))
        if updates:
            assignments = ", ".join(f"{column} = %s" for column in _OWNED)
            cur.executemany(f"UPDATE companies SET {assignments}, updated_at = now() WHERE id = %s", updates)
        if inserts:
            industry = _unclassified(cur)
            cur.executemany(
                f"INSERT INTO companies (symbol, {', '.join(_OWNED)}, industry_id, listed_on) "
                f"VALUES (%s, {', '.join(['%s'] * len(_OWNED))}, %s, %s)",
                [(code, *_row(record), industry, record.listed_on) for code, record in inserts],
            )
            result.changed_symbols += [code for code, _ in inserts]
        result.inserted, result.updated = len(inserts), len(updates)
    return result


def _unclassified(cur: psycopg.Cursor[Any]) -> int:
    cur.execute(
        "INSERT INTO industries (name, description) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        (UNCLASSIFIED, "Listed by the KIS stock master files, which carry no KSIC industry"),
    )
    cur.execute("SELECT id FROM industries WHERE name = %s", (UNCLASSIFIED,))
    row = cur.fetchone()
    assert row is not None, "inserted just above"
    return int(row["id"])


def load_listing(base_url: str | None = None) -> list[MasterRecord]:
    """Both markets' master files, downloaded and parsed (KOSPI first)."""
    return [record for market in MARKETS for record in parse_master(download_master(market, base_url), market)]


def sync(conn: psycopg.Connection[Any], base_url: str | None = None) -> SyncResult:
    """Download both master files (``KIS_MASTER_URL``) and apply them (nothing is written unless
    both parsed), then drop the cached company info and rankings built on the old rows."""
    from kstock.companies.detail import forget_companies

    result = apply(conn, load_listing(base_url))
    if result.inserted or result.updated:
        forget_companies(result.updated_ids)
    return result
