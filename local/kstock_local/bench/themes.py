"""``kstock bench themes``: what theme sync costs in LLM calls over one trading day.

A simulated session of 390 one-minute fluctuation rankings (09:00-15:30 KST) goes through the real
pipeline: rank watch (:func:`kstock.themes.service.poll`) on every minute, and the classification
worker (:func:`kstock.themes.service.classify_entrant`) on every message it queues, with a fake LLM
that counts its calls and answers each stock's simulated theme. Every tenth message is delivered
twice, as SQS may. The printout puts the pipeline's LLM calls beside the naive design's (classify
the whole top 30 every minute: 30 x 390 = 11,700).

The day is seeded and built like the KIS simulator's market (:mod:`kstock_local.kis_sim.themes`): a named
theme surges every half hour and fades, while a background of single names drifts around the
bottom of the top 30 and flickers in and out. It runs on a throwaway embedded Postgres and Redis
(nothing of a running stack is touched).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from kstock_local.kis_sim.themes import THEMES, themes_of

if TYPE_CHECKING:
    from kstock.llm import GeminiClient

SESSION_MINUTES = 390
TOP_N = 30
NAIVE_CALLS = TOP_N * SESSION_MINUTES
SYMBOL_IN_PROMPT = re.compile(r"^종목: .* \((?P<symbol>[0-9A-Z]+)\)$", re.MULTILINE)
HEADLINE_IN_PROMPT = re.compile(r"^\[(?P<id>\d+)\] ", re.MULTILINE)
SOLO_THEME = "개별 호재"  # what the fake LLM answers for a stock of no simulated theme


def _one(row: dict[str, Any] | None) -> dict[str, Any]:
    assert row is not None  # RETURNING and count(*) answer one row
    return row


def _no_news(company_id: int, name: str) -> None:
    """The bench seeds each entrant's news itself: nothing to fetch."""


class CountingLlm:
    """Stands where :class:`kstock.llm.GeminiClient` does; answers from the simulated themes, counts calls."""

    available = True

    def __init__(self, truth: dict[str, str]) -> None:
        self.truth = truth
        self.calls = 0

    def generate(self, feature: str, prompt: str, schema: type[BaseModel], **_: Any) -> Any:
        from kstock.llm.calls import TokenUsage
        from kstock.llm.client import LlmResult

        self.calls += 1
        symbol = SYMBOL_IN_PROMPT.search(prompt)
        first = HEADLINE_IN_PROMPT.search(prompt)
        theme = self.truth.get(symbol["symbol"] if symbol else "", SOLO_THEME)
        value = schema.model_validate(
            {
                "theme": theme,
                "isNew": True,  # kstock matches it against the listed themes itself
                "confidence": 0.9,
                "reason": f"헤드라인이 {theme} 테마를 말합니다 (벤치마크의 가짜 LLM).",
                "headlineIds": [int(first["id"])] if first else [],
            }
        )
        usage = TokenUsage(prompt=len(prompt) // 2, answer=40, thinking=0, total=len(prompt) // 2 + 40)
        return LlmResult(value=value, model="bench-fake", usage=usage, latency_ms=0, attempts=1)


@dataclass
class Stock:
    symbol: str
    name: str
    change: float
    target: float


@dataclass
class SimulatedDay:
    """Seeded rankings, one per minute."""

    stocks: dict[str, Stock]
    seed: int
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def rankings(self) -> Iterator[list[tuple[str, str, float]]]:
        themed = [t for t in THEMES if sum(s in self.stocks for s in t.symbols) >= 2]
        for minute in range(SESSION_MINUTES):
            if minute % 30 == 0:  # a new theme surges, the last one fades
                for stock in self.stocks.values():
                    stock.target = min(stock.target, self.rng.uniform(-2.0, 4.0))
                for symbol in self.rng.choice(themed).symbols:
                    if symbol in self.stocks:
                        self.stocks[symbol].target = self.rng.uniform(8.0, 25.0)
            for stock in self.stocks.values():
                stock.change += (stock.target - stock.change) * 0.15 + self.rng.gauss(0.0, 0.4)
            ranked = sorted(self.stocks.values(), key=lambda s: -s.change)
            yield [(s.symbol, s.name, round(s.change, 2)) for s in ranked if s.change > 0][:TOP_N]


@contextmanager
def throwaway_services() -> Iterator[None]:
    from kstock import db
    from kstock.config import reload_settings
    from kstock_local.embedded import EmbeddedPostgres, EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="kstock-bench-themes-") as home:
        postgres = EmbeddedPostgres(Path(home) / "pg", delete_on_stop=True)
        redis = EmbeddedRedis(Path(home) / "redis", persist=False)
        saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "KSTOCK_EMBEDDED", "GOOGLE_API_KEY")}
        try:
            os.environ.update(DATABASE_URL=postgres.start(), REDIS_URL=redis.start(), KSTOCK_EMBEDDED="postgres,redis")
            os.environ.pop("GOOGLE_API_KEY", None)
            reload_settings()
            yield
        finally:
            db.close_pool()
            redis.stop()
            postgres.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            reload_settings()


def prepare(day: date, background: int, seed: int) -> tuple[dict[str, Stock], dict[str, str]]:
    """Schema, companies, and three simulated headlines per stock (its news marked fresh)."""
    from kstock import db
    from kstock.companies.reference import seed as seed_companies
    from kstock.db.migrate import migrate

    url = os.environ["DATABASE_URL"]
    migrate(url)
    with db.connect(url) as conn:
        seed_companies(conn)
    with db.read() as conn:
        companies = {r["symbol"]: (r["id"], r["name"]) for r in conn.execute("SELECT id, symbol, name FROM companies")}
    themed = {s for t in THEMES for s in t.symbols if s in companies}
    rng = random.Random(seed)
    others = rng.sample(sorted(set(companies) - themed), background)
    truth = {s: themes_of(s)[0].name for s in themed}
    fresh = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    with db.transaction() as conn:
        for symbol in sorted(themed | set(others)):
            company_id, name = companies[symbol]
            theme = truth.get(symbol)
            titles = (
                [f"{theme} 관련주 {name} 강세", f"{name}, {theme} 수혜 기대", f"{theme} 테마 순환매에 {name} 주목"]
                if theme
                else [f"{name} 신규 수주 공시", f"{name} 실적 개선 기대", f"{name} 자사주 매입 결정"]
            )
            for n, title in enumerate(titles):
                news_id = _one(
                    conn.execute(
                        "INSERT INTO news (url, title, source, published_at, fetched_at) "
                        "VALUES (%s, %s, 'simulated', %s, %s) RETURNING id",
                        (f"https://bench.simulated.kstock.local/{symbol}/{n}", title, fresh, fresh),
                    ).fetchone()
                )["id"]
                conn.execute("INSERT INTO news_companies (news_id, company_id) VALUES (%s, %s)", (news_id, company_id))
            conn.execute(
                "INSERT INTO data_refreshes (company_id, kind, refreshed_at) VALUES (%s, 'news', %s)",
                (company_id, fresh),
            )
    stocks = {
        s: Stock(s, companies[s][1], rng.uniform(-3.0, 3.0), rng.uniform(-2.0, 4.0))
        for s in sorted(themed | set(others))
    }
    return stocks, truth


def bench_themes(background: int = 120, seed: int = 14, redeliver_every: int = 10) -> dict[str, Any]:
    with throwaway_services():
        from kstock.market.calendar import KST
        from kstock.themes import metrics
        from kstock.themes.rankwatch import Ranked
        from kstock.themes.service import classify_entrant, poll

        day = date(2030, 1, 2)  # a Wednesday: a trading day with a trading day before it
        stocks, truth = prepare(day, background, seed)
        llm = CountingLlm(truth)
        gemini = cast("GeminiClient", llm)  # duck-typed: it answers classify() as the Gemini client does
        opening = datetime(day.year, day.month, day.day, 9, 0, tzinfo=KST)
        sent: list[Any] = []
        deliveries = 0
        started = time.perf_counter()
        for minute, ranking in enumerate(SimulatedDay(stocks, seed).rankings()):
            now = opening + timedelta(minutes=minute)
            rows = [Ranked(symbol, name, 10_000, change, 1_000, 10_000_000) for symbol, name, change in ranking]
            queued: list[Any] = []

            def send(requests: Sequence[Any], into: list[Any] = queued) -> int:
                into.extend(requests)
                return len(requests)

            poll(rows, now=now, send=send)
            for request in queued:
                deliveries += 1
                classify_entrant(request, llm=gemini, fetch_news=_no_news, now=now + timedelta(seconds=5))
                if deliveries % redeliver_every == 0:  # SQS delivered it twice
                    classify_entrant(request, llm=gemini, fetch_news=_no_news, now=now + timedelta(seconds=30))
            sent += queued
        elapsed = time.perf_counter() - started
        from kstock import db

        with db.read() as conn:
            counts = metrics.of_day(conn, day)
            themes = _one(conn.execute("SELECT count(*) AS n FROM themes WHERE is_active").fetchone())["n"]
        return {
            "minutes": SESSION_MINUTES,
            "counts": counts,
            "llm_calls": llm.calls,
            "distinct_classified": len({r.symbol for r in sent}),
            "redelivered": deliveries // redeliver_every,
            "active_themes": themes,
            "seconds": elapsed,
        }


def report(result: dict[str, Any]) -> list[str]:
    c = result["counts"]
    per_entrant = result["llm_calls"] / max(1, result["distinct_classified"])
    return [
        f"simulated trading day: {result['minutes']} one-minute fluctuation rankings (top {TOP_N})",
        f"  ranking polls            {c['rankingPolls']:>7,}",
        f"  entrants seen            {c['entrantsSeen']:>7,}",
        f"  debounced away           {c['debouncedAway']:>7,}   (left the top 30 before the debounce)",
        f"  classifications queued   {c['classificationsQueued']:>7,}   "
        f"({result['distinct_classified']} distinct stocks)",
        f"  redelivered messages     {result['redelivered']:>7,}   (answered from the stored classification)",
        f"  rules fallbacks          {c['rulesFallbacks']:>7,}",
        f"  unclassified (미분류)     {c['unclassified']:>7,}",
        f"  active themes at close   {result['active_themes']:>7,}",
        "",
        f"LLM calls, pipeline        {result['llm_calls']:>7,}   ({per_entrant:.2f} per classified stock, "
        f"{c['tokens']:,} tokens)",
        f"LLM calls, naive (30 x 390) {NAIVE_CALLS:>6,}   ({NAIVE_CALLS / max(1, result['llm_calls']):.0f}x more)",
        f"({result['seconds']:.1f} s on this machine, fake LLM: no network)",
    ]


def add_themes_bench(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def run(args: argparse.Namespace) -> int:
        for line in report(bench_themes(args.background, args.seed)):
            print(line)
        return 0

    parser = bench_sub.add_parser(
        "themes", help="theme sync's LLM calls over a simulated trading day vs the naive 11,700"
    )
    parser.add_argument("--background", type=int, default=120, help="companies of no theme that drift (default 120)")
    parser.add_argument("--seed", type=int, default=14)
    parser.set_defaults(func=run)


if __name__ == "__main__":
    main_parser = argparse.ArgumentParser(prog="kstock bench")
    add_themes_bench(main_parser.add_subparsers(dest="bench", required=True))
    arguments = main_parser.parse_args()
    raise SystemExit(arguments.func(arguments))
