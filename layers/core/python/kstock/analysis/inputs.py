"""The grounded input of an analysis: only what kstock holds, every item with an id a citation can name.

Ids: ``news:<id>`` (a stored article), ``filing:<id>`` (a stored DART filing), ``fig:<name>`` (a figure
computed by :mod:`kstock.analysis.figures` or here, with the rows it comes from in its ``basis``). The
LLM's answer may cite only these ids; the rules score reads the same metrics.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from psycopg.rows import dict_row

from kstock import db
from kstock.analysis.figures import CompanyFigures, figures_of, growth, median
from kstock.errors import NotFound
from kstock.indicators.signal import signal
from kstock.schemas import CamelModel

NEWS_DAYS = 30
NEWS_SHOWN = 20  # the newest ones; news_count counts them all
FILINGS_SHOWN = 8
FILING_DAYS = 180
SIGNAL_BARS = 130  # enough for every indicator of the combined signal to warm up
VOLATILITY_BARS = 60
INDUSTRY_MEMBERS = 50  # the largest by market cap
MOVERS = 3  # top and bottom by 20-day return


class Citable(CamelModel):
    """Something an answer may cite, resolved for the response."""

    id: str
    kind: Literal["news", "filing", "figure"]
    title: str
    url: str | None = None
    source: str | None = None  # naver / simulated / dart / kstock
    at: datetime | None = None
    description: str | None = None


class Metric(CamelModel):
    id: str  # fig:<name>
    label: str  # Korean, as the prompt and the rules summary show it
    value: float | None
    unit: str
    basis: str  # the stored rows it is computed from


class AnalysisInput(CamelModel):
    subject: Literal["company", "industry"]
    subject_id: int
    name: str
    symbol: str | None = None
    industry: str | None = None
    metrics: dict[str, Metric]
    labels: dict[str, str]  # non-numeric facts: signal label, scan grade
    yearly: list[dict[str, Any]] = []
    quarterly: list[dict[str, Any]] = []
    news: list[Citable] = []
    filings: list[Citable] = []
    themes: list[str] = []
    members: list[str] = []  # an industry's members as "name (symbol)"
    input_as_of: datetime | None = None

    def citables(self) -> dict[str, Citable]:
        out = {item.id: item for item in [*self.news, *self.filings]}
        for metric in self.metrics.values():
            if metric.value is not None:
                title = f"{metric.label}: {metric.value:g}{metric.unit}"
                out[metric.id] = Citable(id=metric.id, kind="figure", title=title, source="kstock")
        return out


def _metric(name: str, label: str, value: float | None, unit: str, basis: str) -> Metric:
    return Metric(id=f"fig:{name}", label=label, value=value, unit=unit, basis=basis)


def _figure_metrics(fig: CompanyFigures, prefix: str = "") -> dict[str, Metric]:
    years = fig.years
    span = f"FY{years.year} vs FY{years.prev_year} ({years.source})" if years and years.prev_year else "no two years"
    return {
        "revenue_growth": _metric(
            f"{prefix}revenue_growth", "매출 성장률", fig.revenue_growth, "%", f"financials {span}"
        ),
        "operating_profit_growth": _metric(
            f"{prefix}operating_profit_growth",
            "영업이익 성장률",
            fig.operating_profit_growth,
            "%",
            f"financials {span}",
        ),
        "margin_change": _metric(
            f"{prefix}margin_change", "영업이익률 변화", fig.margin_change, "%p", f"financials {span}"
        ),
        "momentum_60d": _metric(
            f"{prefix}momentum_60d", "60거래일 수익률", fig.momentum_60d, "%", "ohlcv_1d close now vs 60 bars back"
        ),
        "rs_rank": _metric(
            f"{prefix}rs_rank", "상대강도(RS) 순위", fig.rs_rank, "점", "scan_signals of the newest run"
        ),
    }


def _news(conn: Any, link: str, owner: str, owner_id: int, since: datetime) -> tuple[list[Citable], int]:
    rows = conn.execute(
        f"""
        SELECT n.id, n.title, n.summary, n.url, n.source, n.published_at
        FROM {link} l JOIN news n ON n.id = l.news_id
        WHERE l.{owner} = %s AND n.published_at >= %s ORDER BY n.published_at DESC, n.id DESC
        """,
        (owner_id, since),
    ).fetchall()
    items = [
        Citable(
            id=f"news:{r['id']}",
            kind="news",
            title=r["title"],
            url=r["url"],
            source=r["source"],
            at=r["published_at"],
            description=r["summary"],
        )
        for r in rows[:NEWS_SHOWN]
    ]
    return items, len(rows)


def _filings(conn: Any, company_id: int, since: datetime) -> list[Citable]:
    rows = conn.execute(
        """
        SELECT id, title, url, source, filed_on FROM reports WHERE company_id = %s AND filed_on >= %s
        ORDER BY filed_on DESC, receipt_no DESC LIMIT %s
        """,
        (company_id, since.date(), FILINGS_SHOWN),
    ).fetchall()
    return [
        Citable(
            id=f"filing:{r['id']}",
            kind="filing",
            title=r["title"],
            url=r["url"],
            source=r["source"],
            at=datetime.combine(r["filed_on"], datetime.min.time(), tzinfo=since.tzinfo),
        )
        for r in rows
    ]


def _periods(conn: Any, company_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float | None]:
    rows = conn.execute(
        """
        SELECT fiscal_year, period, revenue, operating_profit, net_income, source, fetched_at FROM financials
        WHERE company_id = %s ORDER BY fiscal_year DESC, array_position(ARRAY['FY', 'Q3', 'Q2', 'Q1'], period)
        """,
        (company_id,),
    ).fetchall()
    yearly = [dict(r) for r in rows if r["period"] == "FY"][:3]
    quarterly = [dict(r) for r in rows if r["period"] != "FY"][:4]
    quarter_growth = None
    if quarterly:
        newest = quarterly[0]
        year_before = next(
            (r for r in rows if r["period"] == newest["period"] and r["fiscal_year"] == newest["fiscal_year"] - 1),
            None,
        )
        if year_before is not None:
            quarter_growth = growth(newest["revenue"], year_before["revenue"])
    return yearly, quarterly, quarter_growth


def _bars(conn: Any, symbol: str) -> tuple[npt.NDArray[Any], ...]:
    rows = conn.execute(
        "SELECT bucket, high, low, close, volume FROM ohlcv_1d WHERE symbol = %s ORDER BY bucket DESC LIMIT %s",
        (symbol, SIGNAL_BARS),
    ).fetchall()[::-1]
    columns = [np.array([float(r[c]) for r in rows], dtype=float) for c in ("high", "low", "close", "volume")]
    return (*columns, np.array([r["bucket"] for r in rows], dtype=object))


def _volatility(close: npt.NDArray[Any]) -> float | None:
    """Annualised standard deviation of the last 60 daily returns, in %."""
    if len(close) < VOLATILITY_BARS + 1:
        return None
    tail = close[-(VOLATILITY_BARS + 1) :]
    returns = tail[1:] / tail[:-1] - 1.0
    return round(float(np.std(returns, ddof=1)) * math.sqrt(252) * 100.0, 2)


def _as_of(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def company_input(company_id: int, now: datetime) -> AnalysisInput:
    """Everything a company's analysis may use, as of ``now``; NOT_FOUND for no company."""
    with db.read() as connection, connection.cursor(row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT c.id, c.name, c.symbol, c.industry_id, i.name AS industry FROM companies c "
            "LEFT JOIN industries i ON i.id = c.industry_id WHERE c.id = %s",
            (company_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"company {company_id} does not exist")
        peers: list[tuple[int, str]] = []
        if row["industry_id"] is not None:
            peers = [
                (int(p["id"]), p["symbol"])
                for p in conn.execute(
                    "SELECT id, symbol FROM companies WHERE industry_id = %s AND id <> %s "
                    "ORDER BY market_cap DESC NULLS LAST, id LIMIT %s",
                    (row["industry_id"], company_id, INDUSTRY_MEMBERS),
                ).fetchall()
            ]
        figures = figures_of(conn, [(company_id, row["symbol"]), *peers])
        own = figures[company_id]
        yearly, quarterly, quarter_growth = _periods(conn, company_id)
        high, low, close, volume, buckets = _bars(conn, row["symbol"])
        news, news_count = _news(conn, "news_companies", "company_id", company_id, now - timedelta(days=NEWS_DAYS))
        filings = _filings(conn, company_id, now - timedelta(days=FILING_DAYS))
        scan = conn.execute(
            "SELECT grade, score FROM scan_signals WHERE company_id = %s AND run_id = (SELECT id FROM scan_runs "
            "WHERE status = 'done' ORDER BY finished_at DESC, id DESC LIMIT 1)",
            (company_id,),
        ).fetchone()
        themes = [
            t["name"]
            for t in conn.execute(
                "SELECT t.name FROM theme_members m JOIN themes t ON t.id = m.theme_id "
                "WHERE m.company_id = %s AND m.left_at IS NULL AND t.is_active ORDER BY t.name",
                (company_id,),
            ).fetchall()
        ]

    metrics = _figure_metrics(own)
    metrics["news_count"] = _metric("news_count", "최근 30일 뉴스 건수", float(news_count), "건", "news_companies")
    metrics["return_20d"] = _metric(
        "return_20d", "20거래일 수익률", own.return_20d, "%", "ohlcv_1d close now vs 20 bars back"
    )
    metrics["volatility_60d"] = _metric(
        "volatility_60d", "60거래일 변동성(연율)", _volatility(close), "%", "ohlcv_1d daily returns"
    )
    metrics["quarter_revenue_growth"] = _metric(
        "quarter_revenue_growth", "최근 분기 매출 전년동기 대비", quarter_growth, "%", "financials quarters"
    )
    labels: dict[str, str] = {}
    if len(close):
        combined = signal(high, low, close, volume)
        score = float(combined.score[-1])
        metrics["signal_score"] = _metric(
            "signal_score", "기술적 지표 종합 점수", None if np.isnan(score) else round(score, 2), "점", "ohlcv_1d"
        )
        labels["signal"] = str(combined.labels[-1])
    if scan is not None:
        metrics["scan_score"] = _metric("scan_score", "스캔 점수", float(scan["score"]), "점", "scan_signals")
        labels["scanGrade"] = str(scan["grade"])
    peer_figures = [figures[p] for p, _ in peers]
    for name, label, values in (
        ("industry_revenue_growth", "업종 매출 성장률 중앙값", [f.revenue_growth for f in peer_figures]),
        ("industry_margin", "업종 영업이익률 중앙값", [f.margin for f in peer_figures]),
        ("industry_momentum_60d", "업종 60거래일 수익률 중앙값", [f.momentum_60d for f in peer_figures]),
    ):
        metrics[name] = _metric(name, label, median(values), "%", f"{len(peer_figures)} industry peers")
    fetched = max((r["fetched_at"] for r in [*yearly, *quarterly]), default=None)
    return AnalysisInput(
        subject="company",
        subject_id=company_id,
        name=row["name"],
        symbol=row["symbol"],
        industry=row["industry"],
        metrics=metrics,
        labels=labels,
        yearly=[_period_view(r) for r in yearly],
        quarterly=[_period_view(r) for r in quarterly],
        news=news,
        filings=filings,
        themes=themes,
        input_as_of=_as_of(
            fetched,
            buckets[-1] if len(buckets) else None,
            news[0].at if news else None,
            filings[0].at if filings else None,
        ),
    )


def _period_view(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("fiscal_year", "period", "revenue", "operating_profit", "net_income", "source")
    return {key: row[key] for key in keys}


def industry_input(industry_id: int, now: datetime) -> AnalysisInput:
    """An industry's members' aggregates (medians), its news and its top movers; NOT_FOUND for none."""
    with db.read() as connection, connection.cursor(row_factory=dict_row) as conn:
        row = conn.execute("SELECT id, name FROM industries WHERE id = %s", (industry_id,)).fetchone()
        if row is None:
            raise NotFound(f"industry {industry_id} does not exist")
        members = conn.execute(
            "SELECT id, symbol, name FROM companies WHERE industry_id = %s "
            "ORDER BY market_cap DESC NULLS LAST, id LIMIT %s",
            (industry_id, INDUSTRY_MEMBERS),
        ).fetchall()
        figures = figures_of(conn, [(int(m["id"]), m["symbol"]) for m in members])
        news, news_count = _news(conn, "news_industries", "industry_id", industry_id, now - timedelta(days=NEWS_DAYS))
        newest_bar = conn.execute(
            "SELECT max(bucket) AS at FROM ohlcv_1d WHERE symbol = ANY(%s)", ([m["symbol"] for m in members],)
        ).fetchone()
    values = list(figures.values())
    count = f"median of {len(values)} members"
    metrics = {
        "revenue_growth": _metric(
            "revenue_growth", "회원사 매출 성장률 중앙값", median([f.revenue_growth for f in values]), "%", count
        ),
        "operating_profit_growth": _metric(
            "operating_profit_growth",
            "회원사 영업이익 성장률 중앙값",
            median([f.operating_profit_growth for f in values]),
            "%",
            count,
        ),
        "margin_change": _metric(
            "margin_change", "회원사 영업이익률 변화 중앙값", median([f.margin_change for f in values]), "%p", count
        ),
        "momentum_60d": _metric(
            "momentum_60d", "회원사 60거래일 수익률 중앙값", median([f.momentum_60d for f in values]), "%", count
        ),
        "rs_rank": _metric("rs_rank", "회원사 RS 순위 중앙값", median([f.rs_rank for f in values]), "점", count),
        "news_count": _metric("news_count", "최근 30일 업종 뉴스 건수", float(news_count), "건", "news_industries"),
    }
    names = {int(m["id"]): (m["name"], m["symbol"]) for m in members}
    moved = sorted((f for f in values if f.return_20d is not None), key=lambda f: f.return_20d or 0.0, reverse=True)
    movers = moved[:MOVERS] + [f for f in moved[-MOVERS:] if f not in moved[:MOVERS]]
    for f in movers:
        name, symbol = names[f.company_id]
        metrics[f"mover_{symbol}"] = _metric(
            f"mover:{symbol}", f"{name}({symbol}) 20거래일 수익률", f.return_20d, "%", "ohlcv_1d"
        )
    return AnalysisInput(
        subject="industry",
        subject_id=industry_id,
        name=row["name"],
        metrics=metrics,
        labels={},
        news=news,
        members=[f"{m['name']} ({m['symbol']})" for m in members],
        input_as_of=_as_of(newest_bar["at"] if newest_bar else None, news[0].at if news else None),
    )
