"""Where DART data lands in Postgres: idempotent upserts of corp codes, filings and figures.

Every write is keyed by DART's own identity (corp_code, rcept_no, company + year + period), so a
job that runs twice, or a redelivered message, changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import psycopg

from kstock.dart.models import CorpCode, Filing, PeriodFigures

FILINGS, FINANCIALS = "filings", "financials"  # data_refreshes kinds written here


def replace_corp_codes(conn: psycopg.Connection[Any], codes: Sequence[CorpCode], source: str) -> int:
    """Make dart_corp_codes the listed part of this corpCode.xml; returns rows inserted or changed.

    The file is complete, so a code missing from it (a delisted company) is removed, and a stock
    code that moved to another corp_code follows it.
    """
    latest: dict[str, CorpCode] = {}
    for code in codes:  # one stock code per corp code: the most recently modified entry wins
        kept = latest.get(code.stock_code)
        if kept is None or (code.modify_date or date.min) >= (kept.modify_date or date.min):
            latest[code.stock_code] = code
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged_corp_codes (corp_code char(8), stock_code varchar(9), "
            "corp_name text, modify_date date) ON COMMIT DROP"
        )
        cur.execute("TRUNCATE staged_corp_codes")  # a second replacement in the same transaction
        with cur.copy("COPY staged_corp_codes (corp_code, stock_code, corp_name, modify_date) FROM STDIN") as copy:
            for code in latest.values():
                copy.write_row((code.corp_code, code.stock_code, code.corp_name, code.modify_date))
        cur.execute(
            "DELETE FROM dart_corp_codes d WHERE NOT EXISTS "
            "(SELECT 1 FROM staged_corp_codes s WHERE s.corp_code = d.corp_code AND s.stock_code = d.stock_code)"
        )
        cur.execute(
            """
            INSERT INTO dart_corp_codes AS d (corp_code, stock_code, corp_name, modify_date, source)
            SELECT corp_code, stock_code, corp_name, modify_date, %s FROM staged_corp_codes
            ON CONFLICT (corp_code) DO UPDATE SET
                corp_name = EXCLUDED.corp_name, modify_date = EXCLUDED.modify_date, source = EXCLUDED.source,
                synced_at = now()
            WHERE (d.corp_name, d.modify_date, d.source)
                  IS DISTINCT FROM (EXCLUDED.corp_name, EXCLUDED.modify_date, EXCLUDED.source)
            """,
            (source,),
        )
        return cur.rowcount


def companies_with_corp_codes(
    conn: psycopg.Connection[Any], symbols: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Companies DART knows: id, symbol, name, corp_code (all of them, or those of ``symbols``)."""
    wanted = sorted(set(symbols)) if symbols is not None else None
    return conn.execute(
        """
        SELECT c.id AS company_id, c.symbol, c.name, d.corp_code
        FROM companies c JOIN dart_corp_codes d ON d.stock_code = c.symbol
        WHERE %(symbols)s::text[] IS NULL OR c.symbol = ANY(%(symbols)s::text[])
        ORDER BY c.id
        """,
        {"symbols": wanted},
    ).fetchall()


def latest_filing_day(conn: psycopg.Connection[Any], company_ids: Iterable[int]) -> date | None:
    """The newest stored filing date among these companies."""
    row = conn.execute(
        "SELECT max(filed_on) AS day FROM reports WHERE company_id = ANY(%s)", (sorted(set(company_ids)),)
    ).fetchone()
    return row["day"] if row else None


def refreshed_company_ids(conn: psycopg.Connection[Any], kind: str) -> set[int]:
    rows = conn.execute("SELECT company_id FROM data_refreshes WHERE kind = %s", (kind,)).fetchall()
    return {r["company_id"] for r in rows}


def upsert_filings(conn: psycopg.Connection[Any], company_id: int, filings: Iterable[Filing]) -> int:
    """Store filings; returns how many were new or changed (a corrected title, a new remark)."""
    changed = 0
    with conn.cursor() as cur:
        for filing in filings:
            cur.execute(
                """
                INSERT INTO reports AS r (company_id, receipt_no, title, report_type, filed_on, url, filer_name,
                                          remark, source)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (receipt_no) DO UPDATE SET
                    title = EXCLUDED.title, report_type = EXCLUDED.report_type, filer_name = EXCLUDED.filer_name,
                    remark = EXCLUDED.remark, source = EXCLUDED.source
                WHERE (r.title, r.report_type, r.filer_name, r.remark, r.source)
                      IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.report_type, EXCLUDED.filer_name, EXCLUDED.remark,
                                        EXCLUDED.source)
                """,
                (
                    company_id,
                    filing.receipt_no,
                    filing.title,
                    filing.report_type,
                    filing.filed_on,
                    filing.url,
                    filing.filer_name or None,
                    filing.remark or None,
                    filing.source,
                ),
            )
            changed += cur.rowcount
    return changed


def upsert_figures(conn: psycopg.Connection[Any], company_id: int, figures: PeriodFigures) -> int:
    """Store one period's figures; returns 1 when new or changed (a restatement), else 0."""
    cur = conn.execute(
        """
        INSERT INTO financials AS f (company_id, fiscal_year, period, fs_div, revenue, operating_profit, net_income,
                                     receipt_no, currency, source)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (company_id, fiscal_year, period) DO UPDATE SET
            fs_div = EXCLUDED.fs_div, revenue = EXCLUDED.revenue, operating_profit = EXCLUDED.operating_profit,
            net_income = EXCLUDED.net_income, receipt_no = EXCLUDED.receipt_no, currency = EXCLUDED.currency,
            source = EXCLUDED.source, fetched_at = now()
        WHERE (f.fs_div, f.revenue, f.operating_profit, f.net_income, f.receipt_no, f.currency, f.source)
              IS DISTINCT FROM (EXCLUDED.fs_div, EXCLUDED.revenue, EXCLUDED.operating_profit, EXCLUDED.net_income,
                                EXCLUDED.receipt_no, EXCLUDED.currency, EXCLUDED.source)
        """,
        (
            company_id,
            figures.fiscal_year,
            figures.period,
            figures.fs_div,
            figures.revenue,
            figures.operating_profit,
            figures.net_income,
            figures.receipt_no,
            figures.currency,
            figures.source,
        ),
    )
    return cur.rowcount


def mark_refreshed(conn: psycopg.Connection[Any], company_ids: Iterable[int], kind: str) -> None:
    """Record that ``kind`` was refreshed now for these companies (data-status reads it)."""
    ids = sorted(set(company_ids))
    if ids:
        conn.execute(
            "INSERT INTO data_refreshes (company_id, kind, refreshed_at) SELECT unnest(%s::integer[]), %s, now() "
            "ON CONFLICT (company_id, kind) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at",
            (ids, kind),
        )
