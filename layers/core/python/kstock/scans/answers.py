"""``GET /scans/{scanId}`` and ``GET /scans/latest``: a run's status and progress, then its results."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from kstock import db
from kstock.errors import NotFound
from kstock.schemas import CamelModel

ORDER_COLUMNS = {"score": "s.score", "market_cap": "s.market_cap", "volume": "s.volume"}


class ScanProgress(CamelModel):
    chunks_done: int
    chunks_total: int
    symbols_done: int = Field(description="Symbols of the chunks done.")
    symbols: int = Field(description="Symbols in the scanned universe.")


class ScanFilters(CamelModel):
    market: str
    exclude_elw: bool
    min_market_cap: int | None
    max_tickers: int
    top_n: int
    sort_by: str
    sort_order: str


class ScanResult(CamelModel):
    symbol: str
    name: str
    market: str
    grade: str = Field(description="A-D (kstock.scans.grading).")
    score: float = Field(description="Total score 0-100.")
    vcp_score: float | None
    vcp_detected: bool
    trend_rules: int = Field(description="Trend-template rules held, of 8.")
    trend_passed: bool
    rs_rank: float | None = Field(description="1-99 within the scanned universe; null under 253 bars.")
    smart_money_score: float | None = Field(description="0-100; null while investor trend is not fetched.")
    signal_label: str = Field(description="The daily indicator signal's label on the last bar.")
    entry_price: float | None
    stop_price: float | None
    target_price: float | None
    close: float | None
    volume: int | None
    market_cap: int | None


class ScanAnswer(CamelModel):
    scan_id: int
    status: Literal["running", "done", "failed"]
    trigger: str = Field(description="api (POST /scans) or schedule (the daily 15:40 KST scan).")
    as_of: date = Field(description="The KST trading day of the run.")
    started_at: datetime
    finished_at: datetime | None
    progress: ScanProgress
    filters: ScanFilters
    total_scanned: int | None = Field(description="Set once done.")
    valid_signals: int | None = Field(description="Results graded A, B or C; set once done.")
    returned: int | None
    results: list[ScanResult] | None = Field(description="Once done: the best topN by sortBy.")


def _results(conn: Any, scan_id: int, filters: ScanFilters) -> list[ScanResult]:
    column = ORDER_COLUMNS[filters.sort_by]
    direction = "ASC" if filters.sort_order == "asc" else "DESC"
    rows = conn.execute(
        "SELECT c.symbol, c.name, c.market, s.grade, s.score, s.vcp_score, s.rs_rank, s.smart_money_score, "
        "s.entry_price, s.stop_price, s.target_price, s.close_price, s.volume, s.market_cap, s.details "
        "FROM scan_signals s JOIN companies c ON c.id = s.company_id WHERE s.run_id = %s "
        f"ORDER BY {column} {direction} NULLS LAST, s.score DESC, c.symbol LIMIT %s",
        (scan_id, filters.top_n),
    ).fetchall()

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return [
        ScanResult(
            symbol=r["symbol"],
            name=r["name"],
            market=r["market"],
            grade=r["grade"],
            score=float(r["score"]),
            vcp_score=number(r["vcp_score"]),
            vcp_detected=bool(r["details"].get("vcpDetected")),
            trend_rules=int(r["details"].get("trendRules", 0)),
            trend_passed=bool(r["details"].get("trendPassed")),
            rs_rank=number(r["rs_rank"]),
            smart_money_score=number(r["smart_money_score"]),
            signal_label=str(r["details"].get("signalLabel", "neutral")),
            entry_price=number(r["entry_price"]),
            stop_price=number(r["stop_price"]),
            target_price=number(r["target_price"]),
            close=number(r["close_price"]),
            volume=r["volume"],
            market_cap=r["market_cap"],
        )
        for r in rows
    ]


def _answer(conn: Any, run: dict[str, Any]) -> ScanAnswer:
    request = run["request"]
    filters = ScanFilters(
        market=request["market"],
        exclude_elw=request["excludeElw"],
        min_market_cap=request["minMarketCap"],
        max_tickers=request["maxTickers"],
        top_n=request["topN"],
        sort_by=request["sortBy"],
        sort_order=request["sortOrder"],
    )
    done = run["status"] == "done"
    results = _results(conn, run["id"], filters) if done else None
    return ScanAnswer(
        scan_id=run["id"],
        status=run["status"],
        trigger=run["trigger"],
        as_of=run["as_of"],
        started_at=run["started_at"],
        finished_at=run["finished_at"],
        progress=ScanProgress(
            chunks_done=run["chunks_done"],
            chunks_total=run["chunks_total"],
            symbols_done=run["total_scanned"],
            symbols=run["symbols"],
        ),
        filters=filters,
        total_scanned=run["total_scanned"] if done else None,
        valid_signals=run["valid_signals"] if done else None,
        returned=len(results) if results is not None else None,
        results=results,
    )


RUN_COLUMNS = (
    "id, request, status, trigger, as_of, started_at, finished_at, chunks_done, chunks_total, total_scanned, "
    "symbols, valid_signals"
)


def scan_answer(scan_id: int) -> ScanAnswer:
    with db.read() as conn:
        run: Any = conn.execute(f"SELECT {RUN_COLUMNS} FROM scan_runs WHERE id = %s", (scan_id,)).fetchone()
        if run is None:
            raise NotFound(f"scan {scan_id} does not exist")
        return _answer(conn, run)


def latest_answer() -> ScanAnswer:
    """The last completed run (NOT_FOUND before the first one completes)."""
    with db.read() as conn:
        run: Any = conn.execute(
            f"SELECT {RUN_COLUMNS} FROM scan_runs WHERE status = 'done' ORDER BY finished_at DESC, id DESC LIMIT 1"
        ).fetchone()
        if run is None:
            raise NotFound("no scan has completed yet")
        return _answer(conn, run)
