"""Reference data shipped with kstock (``kstock/data/*.csv``) and its idempotent loader.

``companies.csv`` lists real KRX-listed companies (sources in ``data/SOURCES.md``). Listed shares
and market caps are only written when the file has them, so values refreshed later from KIS are
never overwritten by a re-seed. Nor are the names, markets and kinds of a `kstock listings sync`
(the exchange's listing as KIS publishes it, newer than the file): `kstock up` re-seeds on every
start, and a company the sync wrote (``standard_code`` set) keeps what the sync said.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row

from kstock.market.codes import classify


@dataclass(frozen=True)
class CompanyRow:
    symbol: str
    name: str
    market: str
    kind: str
    industry: str | None
    listed_shares: int | None
    market_cap: int | None
    listed_on: date | None = None
    homepage: str | None = None
    main_products: str | None = None

    @property
    def description(self) -> str | None:
        """A factual one-liner from the exchange's list: industry and main products."""
        parts = [p for p in (self.industry, f"주요 제품: {self.main_products}" if self.main_products else None) if p]
        return " · ".join(parts) or None


@dataclass(frozen=True)
class IndexRow:
    code: str
    name: str
    kis_code: str


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip().replace(",", "")
    return int(value) if value else None


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("kstock.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def load_companies() -> list[CompanyRow]:
    rows = []
    for raw in _read_csv("companies.csv"):
        symbol = classify(raw["symbol"]).code  # a bad code in the data file fails loudly
        rows.append(
            CompanyRow(
                symbol=symbol,
                name=raw["name"].strip(),
                market=raw["market"].strip().upper(),
                kind=(raw.get("kind") or "STOCK").strip().upper(),
                industry=(raw.get("industry") or "").strip() or None,
                listed_shares=_int_or_none(raw.get("listed_shares")),
                market_cap=_int_or_none(raw.get("market_cap")),
                listed_on=date.fromisoformat(raw["listed_on"]) if (raw.get("listed_on") or "").strip() else None,
                homepage=(raw.get("homepage") or "").strip() or None,
                main_products=(raw.get("main_products") or "").strip() or None,
            )
        )
    return rows


def load_indices() -> list[IndexRow]:
    return [IndexRow(r["code"].strip(), r["name"].strip(), r["kis_code"].strip()) for r in _read_csv("indices.csv")]


@dataclass(frozen=True)
class SeedResult:
    industries: int
    companies: int
    indices: int


def seed(conn: psycopg.Connection[Any]) -> SeedResult:
    """Upsert the reference data in one transaction; running it again changes nothing."""
    companies = load_companies()
    indices = load_indices()
    industries = sorted({c.industry for c in companies if c.industry})
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.executemany(
            "INSERT INTO industries (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
            [(name,) for name in industries],
        )
        cur.execute("SELECT id, name FROM industries")
        industry_ids = {row["name"]: row["id"] for row in cur.fetchall()}
        cur.executemany(
            """
            INSERT INTO companies (symbol, name, market, kind, industry_id, listed_shares, market_cap,
                                   listed_on, homepage, description)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (symbol) DO UPDATE SET
                name = CASE WHEN companies.standard_code IS NULL THEN EXCLUDED.name ELSE companies.name END,
                market = CASE WHEN companies.standard_code IS NULL THEN EXCLUDED.market ELSE companies.market END,
                kind = CASE WHEN companies.standard_code IS NULL THEN EXCLUDED.kind ELSE companies.kind END,
                industry_id = EXCLUDED.industry_id,
                listed_on = COALESCE(EXCLUDED.listed_on, companies.listed_on),
                homepage = COALESCE(EXCLUDED.homepage, companies.homepage),
                description = COALESCE(EXCLUDED.description, companies.description),
                listed_shares = COALESCE(EXCLUDED.listed_shares, companies.listed_shares),
                market_cap = COALESCE(EXCLUDED.market_cap, companies.market_cap),
                updated_at = CASE WHEN companies.industry_id IS DISTINCT FROM EXCLUDED.industry_id
                                    OR (companies.standard_code IS NULL
                                        AND (companies.name, companies.market, companies.kind)
                                            IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.market, EXCLUDED.kind))
                                  THEN now() ELSE companies.updated_at END
            """,
            [
                (
                    c.symbol,
                    c.name,
                    c.market,
                    c.kind,
                    industry_ids.get(c.industry),
                    c.listed_shares,
                    c.market_cap,
                    c.listed_on,
                    c.homepage,
                    c.description,
                )
                for c in companies
            ],
        )
        cur.executemany(
            """
            INSERT INTO market_indices (code, name, kis_code) VALUES (%s, %s, %s)
            ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kis_code = EXCLUDED.kis_code
            """,
            [(i.code, i.name, i.kis_code) for i in indices],
        )
    return SeedResult(len(industries), len(companies), len(indices))
