"""Themes in Postgres: what the classifier reads, where its answers go, and the heat map's rows.

- :func:`candidate_themes`: the active themes (name, description, member count, member headlines)
  plus the shipped catalogue of known Korean market themes (``members.jsonl``), so the rules
  classifier has a vocabulary on the first morning, before any theme exists;
- :func:`entrant_of`: a company and its newest headlines;
- :func:`stored_answer` / :func:`store_answer`: classifications by idempotency key;
- :func:`apply`: upsert the theme (name matched against existing ones) and the member;
- :func:`blocks`: the ``theme_update`` blocks (theme id, name, members with live change %);
- :func:`list_themes` / :func:`theme_detail`: the heat-map API's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from kstock.market.calendar import KST
from kstock.marketdata.quotes import live_prices, stored_prices
from kstock.themes.classify import Classification
from kstock.themes.evaluate import member_corpus
from kstock.themes.model import Entrant, Headline, ThemeInfo
from kstock.themes.names import UNCLASSIFIED, clean_name, match_theme

HEADLINES_PER_ENTRANT = 10
HEADLINE_DAYS = 7  # older articles say little about why a stock surges today
MEMBER_HEADLINES = 40  # per theme, what the rules classifier learns its vocabulary from


class UnknownSymbol(LookupError):
    """A classification message names a symbol that is not a listed company."""


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=KST)


# -- what the classifier reads ------------------------------------------------------------------------


def candidate_themes(conn: Any) -> list[ThemeInfo]:
    """Active themes first (their members' headlines), then catalogue themes not yet among them;
    a catalogue theme's headlines join the vocabulary of the active theme of the same name."""
    rows = conn.execute(
        """
        SELECT t.name, coalesce(t.description, '') AS description, count(m.company_id) AS members,
               coalesce((SELECT array_agg(h) FROM (
                   SELECT unnest(m2.headlines) AS h FROM theme_members m2 WHERE m2.theme_id = t.id
                   ORDER BY m2.updated_at DESC LIMIT %(limit)s) x), '{}') AS headlines
        FROM themes t LEFT JOIN theme_members m ON m.theme_id = t.id
        WHERE t.is_active AND t.name <> %(unclassified)s
        GROUP BY t.id ORDER BY count(m.company_id) DESC, t.name
        """,
        {"limit": MEMBER_HEADLINES, "unclassified": UNCLASSIFIED},
    ).fetchall()
    catalogue = {entry.theme: entry for entry in member_corpus()}
    themes: list[ThemeInfo] = []
    for row in rows:
        known = match_theme(row["name"], catalogue)
        extra = tuple(catalogue.pop(known).headlines) if known is not None else ()
        themes.append(ThemeInfo(row["name"], row["description"], int(row["members"]), tuple(row["headlines"]) + extra))
    themes += [ThemeInfo(entry.theme, "", 0, tuple(entry.headlines)) for entry in catalogue.values()]
    return themes


def entrant_of(conn: Any, symbol: str, now: datetime) -> tuple[int, Entrant]:
    """(company id, the entrant with its newest headlines, newest first)."""
    company = conn.execute("SELECT id, name FROM companies WHERE symbol = %s", (symbol,)).fetchone()
    if company is None:
        raise UnknownSymbol(f"no listed company has the symbol {symbol!r}")
    rows = conn.execute(
        """
        SELECT n.id, n.title FROM news_companies nc JOIN news n ON n.id = nc.news_id
        WHERE nc.company_id = %s AND n.published_at > %s - make_interval(days => %s)
        ORDER BY n.published_at DESC, n.id DESC LIMIT %s
        """,
        (company["id"], now, HEADLINE_DAYS, HEADLINES_PER_ENTRANT),
    ).fetchall()
    headlines = tuple(Headline(int(r["id"]), r["title"]) for r in rows)
    return int(company["id"]), Entrant(symbol, company["name"], headlines)


def news_refreshed_at(conn: Any, company_id: int) -> datetime | None:
    row = conn.execute(
        "SELECT refreshed_at FROM data_refreshes WHERE company_id = %s AND kind = 'news'", (company_id,)
    ).fetchone()
    return row["refreshed_at"] if row else None


# -- stored answers -------------------------------------------------------------------------------------


def from_wire(data: dict[str, Any]) -> Classification:
    return Classification(
        theme=str(data["theme"]),
        is_new=bool(data["isNew"]),
        classifier="llm" if data["classifier"] == "llm" else "rules",
        confidence=float(data["confidence"]),
        reason=str(data["reason"]),
        headline_ids=tuple(int(i) for i in data.get("headlineIds", ())),
        retry=bool(data.get("retry", False)),
        fallback=data.get("fallback"),
        keywords=tuple(str(k) for k in data.get("keywords", ())),
    )


def stored_answer(conn: Any, key: str) -> Classification | None:
    row = conn.execute("SELECT result FROM theme_classifications WHERE idempotency_key = %s", (key,)).fetchone()
    return from_wire(row["result"]) if row else None


def store_answer(conn: Any, key: str, symbol: str, day: date, answer: Classification) -> bool:
    """Whether this answer was stored (False: another delivery stored one first; use that one)."""
    from psycopg.types.json import Jsonb

    row = conn.execute(
        "INSERT INTO theme_classifications (idempotency_key, symbol, day, result) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1",
        (key, symbol, day, Jsonb(answer.wire())),
    ).fetchone()
    return row is not None


# -- applying an answer -----------------------------------------------------------------------------------


def _theme_id(conn: Any, answer: Classification, now: datetime) -> int:
    """The theme the answer names: an existing one of the same meaning ("2차 전지" is "2차전지"),
    else a new row with the cleaned name; (re)activated and marked as in the top 30 now."""
    name = answer.theme
    if name != UNCLASSIFIED:
        existing = [r["name"] for r in conn.execute("SELECT name FROM themes").fetchall()]
        name = match_theme(name, existing) or clean_name(name)
    row = conn.execute(
        """
        INSERT INTO themes (name, is_active, last_in_top_at) VALUES (%(name)s, true, %(now)s)
        ON CONFLICT (name) DO UPDATE SET is_active = true, last_in_top_at = %(now)s, updated_at = %(now)s
        RETURNING id
        """,
        {"name": name, "now": now},
    ).fetchone()
    return int(row["id"])


def apply(conn: Any, company_id: int, answer: Classification, titles: dict[int, str], now: datetime) -> list[int]:
    """Store the member with why and since; a classified stock leaves 미분류. The changed theme ids."""
    theme_id = _theme_id(conn, answer, now)
    cited = [i for i in answer.headline_ids if i in titles] or list(titles)[:3]
    conn.execute(
        """
        INSERT INTO theme_members (theme_id, company_id, reason, headlines, headline_ids, classifier,
                                   confidence, fallback, joined_at, left_at, updated_at)
        VALUES (%(theme)s, %(company)s, %(reason)s, %(headlines)s, %(ids)s, %(classifier)s,
                %(confidence)s, %(fallback)s, %(now)s, NULL, %(now)s)
        ON CONFLICT (theme_id, company_id) DO UPDATE SET
            reason = EXCLUDED.reason, headlines = EXCLUDED.headlines, headline_ids = EXCLUDED.headline_ids,
            classifier = EXCLUDED.classifier, confidence = EXCLUDED.confidence, fallback = EXCLUDED.fallback,
            left_at = NULL, updated_at = EXCLUDED.updated_at
        """,
        {
            "theme": theme_id,
            "company": company_id,
            "reason": answer.reason,
            "headlines": [titles[i] for i in cited],
            "ids": cited,
            "classifier": answer.classifier,
            "confidence": answer.confidence,
            "fallback": answer.fallback,
            "now": now,
        },
    )
    changed = [theme_id]
    if not answer.unclassified:
        left = conn.execute(
            "DELETE FROM theme_members m USING themes t WHERE t.id = m.theme_id AND t.name = %s "
            "AND m.company_id = %s RETURNING m.theme_id",
            (UNCLASSIFIED, company_id),
        ).fetchall()
        changed += [r["theme_id"] for r in left]
    return changed


def enforce_cap(conn: Any, limit: int, keep: Sequence[int], now: datetime) -> list[int]:
    """Deactivate the themes whose members were longest out of the top 30 beyond ``limit`` active
    ones (미분류 never counts, and ``keep``, the themes just changed, never go)."""
    rows = conn.execute(
        """
        UPDATE themes SET is_active = false, updated_at = %(now)s WHERE id IN (
            SELECT id FROM themes WHERE is_active AND name <> %(unclassified)s
            ORDER BY (id = ANY(%(keep)s)) DESC, last_in_top_at DESC NULLS LAST, id DESC
            OFFSET %(limit)s)
        RETURNING id
        """,
        {"now": now, "unclassified": UNCLASSIFIED, "keep": list(keep), "limit": limit},
    ).fetchall()
    return [int(r["id"]) for r in rows]


# -- reading for broadcasts and the API ---------------------------------------------------------------------

_MEMBERS = """
    SELECT m.theme_id, c.id AS company_id, c.symbol, c.name, m.reason, m.headlines, m.headline_ids,
           m.classifier, m.confidence, m.fallback, m.joined_at, m.left_at,
           s.price AS seen_price, s.change_percent AS seen_change, s.traded_value
    FROM theme_members m JOIN companies c ON c.id = m.company_id
    LEFT JOIN LATERAL (SELECT price, change_percent, traded_value FROM theme_sightings
                       WHERE symbol = c.symbol ORDER BY day DESC LIMIT 1) s ON true
    WHERE m.theme_id = ANY(%(ids)s) AND (m.left_at IS NULL OR m.left_at >= %(today)s)
    ORDER BY m.theme_id, m.left_at IS NOT NULL, s.change_percent DESC NULLS LAST, c.symbol
"""


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _members(conn: Any, theme_ids: Sequence[int], now: datetime) -> dict[int, list[dict[str, Any]]]:
    """Each theme's visible members (a member that fell out of the ranking today stays, marked),
    with the streamed price when there is one, else what today's ranking said, else the newest stored
    price (a bar or a quote): a stored price may be hours older than this minute's ranking."""
    today = day_start(now.astimezone(KST).date())
    rows = conn.execute(_MEMBERS, {"ids": list(theme_ids), "today": today}).fetchall()
    live = live_prices(list(dict.fromkeys(r["symbol"] for r in rows)))
    unranked = [r["symbol"] for r in rows if r["symbol"] not in live and r["seen_change"] is None]
    live.update(stored_prices(list(dict.fromkeys(unranked))))
    grouped: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        quote = live.get(r["symbol"])
        price = quote.price if quote else _num(r["seen_price"])
        change = quote.change_percent if quote and quote.change_percent is not None else _num(r["seen_change"])
        grouped.setdefault(r["theme_id"], []).append({**r, "price": price, "change_percent": change})
    return grouped


def _member_wire(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "symbol": r["symbol"],
        "name": r["name"],
        "price": r["price"],
        "changePercent": r["change_percent"],
        "tradedValue": int(r["traded_value"] or 0),
        "inRanking": r["left_at"] is None,
        "classifier": r["classifier"],
        "reason": r["reason"],
        "since": r["joined_at"].isoformat(),
    }


def _themes(conn: Any, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return list(
        conn.execute(
            f"SELECT id, name, coalesce(description, '') AS description, is_active, last_in_top_at "
            f"FROM themes WHERE {where} ORDER BY id",
            params,
        ).fetchall()
    )


def _block(theme: dict[str, Any], members: list[dict[str, Any]]) -> dict[str, Any]:
    changes = [m["change_percent"] for m in members if m["change_percent"] is not None]
    return {
        "themeId": theme["id"],
        "name": theme["name"],
        "isActive": theme["is_active"],
        "unclassified": theme["name"] == UNCLASSIFIED,
        "weight": sum(int(m["traded_value"] or 0) for m in members),
        "averageChangePercent": round(sum(changes) / len(changes), 2) if changes else None,
        "members": [_member_wire(m) for m in members],
    }


def blocks(conn: Any, theme_ids: Sequence[int], now: datetime) -> list[dict[str, Any]]:
    """The theme_update blocks of these themes (an inactive one is sent too: clients drop it)."""
    themes = _themes(conn, "id = ANY(%(ids)s)", {"ids": list(theme_ids)})
    members = _members(conn, [t["id"] for t in themes], now)
    return [_block(t, members.get(t["id"], [])) for t in themes]


def list_themes(conn: Any, now: datetime) -> list[dict[str, Any]]:
    """Active themes with members: the treemap (weight = traded value, colour = average change %)."""
    themes = _themes(conn, "is_active", {})
    members = _members(conn, [t["id"] for t in themes], now)
    found = [_block(t, members[t["id"]]) for t in themes if members.get(t["id"])]
    return sorted(found, key=lambda b: (-b["weight"], b["themeId"]))


def theme_detail(conn: Any, theme_id: int, now: datetime) -> dict[str, Any] | None:
    """One theme with why each member joined: headlines (with links), reason, classifier, since."""
    themes = _themes(conn, "id = %(id)s", {"id": theme_id})
    if not themes:
        return None
    members = _members(conn, [theme_id], now).get(theme_id, [])
    ids = sorted({i for m in members for i in m["headline_ids"]})
    news = {
        r["id"]: r
        for r in conn.execute(
            "SELECT id, title, url, source, published_at FROM news WHERE id = ANY(%s)", (ids,)
        ).fetchall()
    }
    block = _block(themes[0], members)
    block["description"] = themes[0]["description"]
    for wire, member in zip(block["members"], members, strict=True):
        wire["confidence"] = member["confidence"]
        wire["fallback"] = member["fallback"]
        wire["leftRankingAt"] = member["left_at"].isoformat() if member["left_at"] else None
        wire["headlines"] = [_headline(news.get(i), i, title) for i, title in _cited(member)]
    return block


def _cited(member: dict[str, Any]) -> list[tuple[int | None, str]]:
    ids: list[int] = list(member["headline_ids"])
    titles: list[str] = list(member["headlines"])
    return [(ids[n] if n < len(ids) else None, title) for n, title in enumerate(titles)]


def _headline(row: dict[str, Any] | None, news_id: int | None, title: str) -> dict[str, Any]:
    if row is None:  # the article is gone (retention): the title stays, without a link
        return {"newsId": news_id, "title": title, "url": None, "source": None, "publishedAt": None}
    return {
        "newsId": row["id"],
        "title": row["title"],
        "url": row["url"],
        "source": row["source"],
        "publishedAt": row["published_at"].isoformat(),
    }
