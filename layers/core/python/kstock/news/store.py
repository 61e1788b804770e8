"""News rows in Postgres: idempotent writes of articles and links, and Korean search.

Search uses kiwipiepy nouns, not pg_trgm: the nouns are already extracted at ingestion for the
word cloud, so a ``tsvector`` of them (``news.noun_search``, 0005) costs nothing more, matches
whole words with their particles separated ("삼성전자가" -> 삼성전자), and keeps Postgres free of
an extension. pg_trgm would match inside words without any analyser, but Korean words of two
syllables make weak trigrams (many false hits), and it cannot tell a particle from a word.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from kstock import db
from kstock.news.keywords import nouns

SIMULATED_DOMAIN = "simulated.kstock.local"
"""Articles on this domain (and its subdomains) come from kstock's Naver stand-in."""


def source_of(url: str) -> str:
    """``simulated`` for the stand-in's articles, ``naver`` for the real API's.

    Decided by the article's host, not by NAVER_API_URL: the stand-in writes every URL on
    ``*.simulated.kstock.local``, and no real article can have that host, whatever proxy or
    base URL a deployment points at."""
    host = urlsplit(url).hostname or ""
    return "simulated" if host == SIMULATED_DOMAIN or host.endswith("." + SIMULATED_DOMAIN) else "naver"


@dataclass(frozen=True, slots=True)
class NewsRow:
    url: str
    title: str
    summary: str
    source: str
    published_at: datetime
    keywords: list[str]
    nouns: list[str]


def stored_urls(conn: Any, urls: Sequence[str]) -> set[str]:
    if not urls:
        return set()
    rows = conn.execute("SELECT url FROM news WHERE url = ANY(%s)", (list(urls),)).fetchall()
    return {r["url"] for r in rows}


def insert_news(conn: Any, rows: Sequence[NewsRow]) -> int:
    """Insert the articles not stored yet (by URL); how many were new."""
    if not rows:
        return 0
    # One round trip for the whole page: the rows travel as one JSON array.
    inserted = conn.execute(
        """
        INSERT INTO news (url, title, summary, source, published_at, keywords, nouns)
        SELECT r.url, r.title, r.summary, r.source, r.published_at,
               ARRAY(SELECT jsonb_array_elements_text(r.keywords)),
               ARRAY(SELECT jsonb_array_elements_text(r.nouns))
        FROM jsonb_to_recordset(%s::jsonb) AS r(url text, title text, summary text, source text,
                                               published_at timestamptz, keywords jsonb, nouns jsonb)
        ON CONFLICT (url) DO NOTHING
        RETURNING id
        """,
        (orjson.dumps([_row_json(r) for r in rows]).decode(),),
    ).fetchall()
    return len(inserted)


def ids_by_url(conn: Any, urls: Sequence[str]) -> dict[str, int]:
    if not urls:
        return {}
    rows = conn.execute("SELECT id, url FROM news WHERE url = ANY(%s)", (list(urls),)).fetchall()
    return {r["url"]: int(r["id"]) for r in rows}


def insert_links(conn: Any, table: str, owner_column: str, pairs: Iterable[tuple[int, int]]) -> int:
    """Insert (news id, owner id) links not present yet; how many were new."""
    if table not in ("news_companies", "news_industries") or owner_column not in ("company_id", "industry_id"):
        raise ValueError(f"not a news link table: {table}.{owner_column}")
    pairs = sorted(set(pairs))  # a stable order: concurrent workers lock rows in the same order
    if not pairs:
        return 0
    rows = conn.execute(
        f"""
        INSERT INTO {table} (news_id, {owner_column})
        SELECT * FROM unnest(%s::bigint[], %s::integer[])
        ON CONFLICT DO NOTHING
        RETURNING news_id
        """,
        ([p[0] for p in pairs], [p[1] for p in pairs]),
    ).fetchall()
    return len(rows)


def _row_json(row: NewsRow) -> dict[str, object]:
    return {
        "url": row.url,
        "title": row.title,
        "summary": row.summary,
        "source": row.source,
        "published_at": row.published_at.isoformat(),
        "keywords": row.keywords,
        "nouns": row.nouns,
    }


# -- search ------------------------------------------------------------------------------------------


def search_news(text: str, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    """Articles containing every noun of ``text``, best match then newest first."""
    words = sorted(set(nouns(text)))
    if not words:
        return []
    query = " & ".join("'" + w.replace("'", "''").replace("\\", "\\\\") + "'" for w in words)
    with db.read() as conn:
        rows: list[Any] = conn.execute(
            """
            SELECT id AS news_id, title, summary, url, source, published_at, keywords
            FROM news WHERE noun_search @@ %s::tsquery
            ORDER BY ts_rank(noun_search, %s::tsquery) DESC, published_at DESC, id DESC
            LIMIT %s OFFSET %s
            """,
            (query, query, limit, offset),
        ).fetchall()
    return [dict(r) for r in rows]
