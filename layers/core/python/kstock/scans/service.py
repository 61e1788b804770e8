"""Full-market scans (seed 001 section 4): create a run, analyse its chunks, complete it, answer it.

The life of a run:

1. :func:`create_scan` (``POST /scans`` or the 15:40 KST schedule) selects the universe (market, no
   ELW, minimum market cap, the ``maxTickers`` largest by market cap), computes every symbol's weighted
   12-month return once (cheap: five closes per symbol) and stores it with the run, then queues one
   ScanQueue message per chunk of ``CHUNK_SIZE`` symbols.
2. :func:`run_chunk` (the ScanQueue worker) analyses its symbols with :func:`kstock.scans.analyse`,
   ranking RS against the stored universe returns, and in one transaction records the chunk (a
   redelivered chunk finds its row and changes nothing), upserts its signals and counts it on the
   run's row. The UPDATE takes the run's row lock, so chunks finishing together count one after the
   other and exactly one of them sees the last count: that one completes the run.
3. :func:`scan_answer` reads a run: status and progress, and once done its results sorted and limited
   as the request asked.

Every symbol with bars is stored graded (A-D); ``validSignals`` counts the A, B and C grades (a total of
50 or more), which are what the watchlist takes as scan signals. Smart money comes from KIS's investor
trend (:mod:`kstock.kis.investor`, one call per symbol by the chunk worker) matched by day with the stored
daily volume; when KIS cannot answer, the chunk goes on without it and the score's weight goes to the
other parts, as :mod:`kstock.scans.grading` documents.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
from pydantic import Field

from kstock import db
from kstock.config import get_settings
from kstock.market.calendar import KST
from kstock.scans.bars import load_bars
from kstock.scans.panel import InvestorFlows, analyse
from kstock.scans.rs import weighted_return
from kstock.schemas import CamelModel
from kstock.validation import BodyModel

log = logging.getLogger("kstock.scans")

CHUNK_SIZE = 50
FLOW_DAYS = 20  # the smart-money score reads 5 and 20 days of investor trend
KIS_PAUSE_SECONDS = 300.0
_kis_paused_until = 0.0
VALID_GRADES = ("A", "B", "C")
MAX_TICKERS = 5_000


class ScanRequest(BodyModel):
    """What to scan and how to answer (seed 001 ``ScanRequest``)."""

    market: Literal["KOSPI", "KOSDAQ", "ALL"] = Field("ALL", description="Market to scan.")
    exclude_elw: bool = Field(True, description="Leave ELW (and codes with letters) out.")
    min_market_cap: int | None = Field(None, ge=0, description="Smallest market cap scanned, KRW.")
    max_tickers: int = Field(100, ge=1, le=MAX_TICKERS, description="The largest this many by market cap.")
    top_n: int = Field(30, ge=1, le=500, description="Results answered.")
    sort_by: Literal["score", "market_cap", "volume"] = Field("score", description="Order of the results.")
    sort_order: Literal["desc", "asc"] = Field("desc", description="Direction of sortBy.")


class ChunkMessage(CamelModel):
    """One ScanQueue message: some symbols of a run."""

    scan_id: int = Field(ge=1)
    chunk: int = Field(ge=0)
    symbols: list[str] = Field(min_length=1, max_length=CHUNK_SIZE)


class UnknownScan(ValueError):
    """A chunk names a run that does not exist: no retry can help (the message ends in the DLQ)."""


# -- creation ---------------------------------------------------------------------------------------


def universe(conn: Any, request: ScanRequest) -> list[str]:
    """The symbols a request scans, the largest market cap first."""
    markets = ["KOSPI", "KOSDAQ"] if request.market == "ALL" else [request.market]
    clauses = ["market = ANY(%s)"]
    params: list[Any] = [markets]
    if request.exclude_elw:
        clauses.append("kind <> 'ELW'")  # by kind: stock codes carry letters too since 2024 (0030R0)
    if request.min_market_cap is not None:
        clauses.append("market_cap >= %s")
        params.append(request.min_market_cap)
    rows = conn.execute(
        f"SELECT symbol FROM companies WHERE {' AND '.join(clauses)} "
        "ORDER BY market_cap DESC NULLS LAST, symbol LIMIT %s",
        (*params, request.max_tickers),
    ).fetchall()
    return [str(r["symbol"]) for r in rows]


def chunks(symbols: Sequence[str], size: int = CHUNK_SIZE) -> list[list[str]]:
    return [list(symbols[i : i + size]) for i in range(0, len(symbols), size)]


def _returns(conn: Any, symbols: Sequence[str]) -> dict[str, float | None]:
    values = weighted_return(load_bars(conn, symbols).close)
    return {s: (None if math.isnan(v) else float(v)) for s, v in zip(symbols, values, strict=True)}


def create_run(request: ScanRequest, trigger: Literal["api", "schedule"] = "api") -> tuple[int, list[ChunkMessage]]:
    """Store a run and its universe's returns; its chunk messages (none when the run exists already, for
    a schedule firing twice on one day, or when the universe is empty: such a run is done at once)."""
    now = datetime.now(KST)
    with db.transaction() as conn:
        symbols = universe(conn, request)
        returns = _returns(conn, symbols)
        parts = chunks(symbols)
        row: Any = conn.execute(
            "INSERT INTO scan_runs (request, trigger, as_of, chunks_total, symbols, universe, status, finished_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (as_of) WHERE trigger = 'schedule' DO NOTHING RETURNING id",
            (
                json.dumps(request.wire()),
                trigger,
                now.date(),
                len(parts),
                len(symbols),
                json.dumps(returns),
                "running" if parts else "done",
                None if parts else now,
            ),
        ).fetchone()
        if row is None:
            existing: Any = conn.execute(
                "SELECT id FROM scan_runs WHERE trigger = 'schedule' AND as_of = %s", (now.date(),)
            ).fetchone()
            return int(existing["id"]), []
    scan_id = int(row["id"])
    return scan_id, [ChunkMessage(scan_id=scan_id, chunk=n, symbols=part) for n, part in enumerate(parts)]


def fail_run(scan_id: int, reason: str) -> None:
    log.error("scan failed", extra={"scan_id": scan_id, "reason": reason})
    with db.transaction() as conn:
        conn.execute(
            "UPDATE scan_runs SET status = 'failed', finished_at = now() WHERE id = %s AND status = 'running'",
            (scan_id,),
        )


# -- one chunk --------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def _daily_volumes(conn: Any, symbols: list[str]) -> dict[tuple[str, date], float]:
    rows: list[dict[str, Any]] = conn.execute(
        "SELECT symbol, (bucket AT TIME ZONE 'Asia/Seoul')::date AS day, volume FROM ohlcv_1d "
        "WHERE symbol = ANY(%s) AND bucket > now() - interval '90 days'",
        (symbols,),
    ).fetchall()
    return {(str(r["symbol"]), r["day"]): float(r["volume"]) for r in rows}


def investor_flows(symbols: list[str]) -> InvestorFlows | None:
    """The last ``FLOW_DAYS`` days of KIS investor trend per symbol with the same days' stored volume (NaN
    rows where a day is missing); None when KIS does not answer at all (then, for ``KIS_PAUSE_SECONDS``,
    this process does not ask again: each chunk would otherwise wait out a token issue that cannot work)."""
    global _kis_paused_until
    from kstock.kis.errors import KisError
    from kstock.kis.investor import investor_trend
    from kstock.kis.rest import shared_client

    if time.monotonic() < _kis_paused_until:
        return None
    shape = (len(symbols), FLOW_DAYS)
    foreign, institution, volume = (np.full(shape, np.nan) for _ in range(3))
    with db.read() as conn:
        volumes = _daily_volumes(conn, symbols)
    answered = 0
    for i, symbol in enumerate(symbols):
        try:
            days = investor_trend(shared_client(), symbol)[-FLOW_DAYS:]
        except KisError as exc:
            if answered == 0:  # KIS is down or not configured: one failure is enough to know
                log.warning("KIS investor trend unavailable: scan chunk without smart money (%s)", exc)
                _kis_paused_until = time.monotonic() + KIS_PAUSE_SECONDS
                return None
            continue
        answered += 1
        if len(days) < FLOW_DAYS:
            continue
        foreign[i] = [d.foreign_net for d in days]
        institution[i] = [d.institution_net for d in days]
        volume[i] = [volumes.get((symbol, d.day), np.nan) for d in days]
    return InvestorFlows(foreign_net=foreign, institution_net=institution, volume=volume)


def _signal_rows(scan_id: int, companies: dict[str, dict[str, Any]], symbols: list[str]) -> list[tuple[Any, ...]]:
    """The chunk's analysed rows for scan_signals (symbols without a single bar are left out)."""
    with db.read() as conn:
        bars = load_bars(conn, symbols)
        run: Any = conn.execute("SELECT universe FROM scan_runs WHERE id = %s", (scan_id,)).fetchone()
    flows = investor_flows(symbols)  # KIS calls without holding a database connection
    pool = np.array([v for v in run["universe"].values() if v is not None], dtype=np.float64)
    result = analyse(bars, universe_returns=pool if pool.size else None, flows=flows)
    out: list[tuple[Any, ...]] = []
    for i, symbol in enumerate(symbols):
        if symbol not in companies or np.isnan(bars.close[i, -1]):
            continue
        g = result.grades
        details = {
            "signalScore": _number(result.signal_score[i]),
            "signalLabel": str(result.signal_label[i]),
            "trendRules": int(result.trend.count[i]),
            "trendPassed": bool(result.trend.passed[i]),
            "vcpDetected": bool(result.vcp.detected[i]),
            "contractions": int(result.vcp.contractions[i]),
            "rsReturn": _number(result.rs_return[i]),
        }
        out.append(
            (
                scan_id,
                companies[symbol]["id"],
                str(g.grade[i]),
                round(float(g.total[i]), 2),
                _number(result.vcp.score[i]),
                _number(g.entry[i]),
                _number(g.target[i]),
                json.dumps(details),
                _number(result.rs_rank[i]),
                _number(result.smart_money[i]),
                _number(g.stop[i]),
                float(bars.close[i, -1]),
                int(bars.volume[i, -1]),
                companies[symbol]["market_cap"],
                str(g.grade[i]) in VALID_GRADES,
            )
        )
    return out


UPSERT_SIGNAL = (
    "INSERT INTO scan_signals (run_id, company_id, grade, score, vcp_score, entry_price, target_price, details, "
    "rs_rank, smart_money_score, stop_price, close_price, volume, market_cap, valid) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (run_id, company_id) DO UPDATE SET grade = EXCLUDED.grade, score = EXCLUDED.score, "
    "vcp_score = EXCLUDED.vcp_score, entry_price = EXCLUDED.entry_price, target_price = EXCLUDED.target_price, "
    "details = EXCLUDED.details, rs_rank = EXCLUDED.rs_rank, smart_money_score = EXCLUDED.smart_money_score, "
    "stop_price = EXCLUDED.stop_price, close_price = EXCLUDED.close_price, volume = EXCLUDED.volume, "
    "market_cap = EXCLUDED.market_cap, valid = EXCLUDED.valid"
)


def run_chunk(message: ChunkMessage) -> bool:
    """Analyse and record one chunk; whether it counted (False: a redelivery, or the run is over)."""
    with db.read() as conn:
        run: Any = conn.execute("SELECT status FROM scan_runs WHERE id = %s", (message.scan_id,)).fetchone()
        if run is None:
            raise UnknownScan(f"scan {message.scan_id} does not exist")
        if run["status"] != "running":
            return False
        found: Any = conn.execute(
            "SELECT id, symbol, market_cap FROM companies WHERE symbol = ANY(%s)", (message.symbols,)
        ).fetchall()
    companies = {str(r["symbol"]): dict(r) for r in found}
    rows = _signal_rows(message.scan_id, companies, message.symbols)
    with db.transaction() as conn:
        fresh: Any = conn.execute(
            "INSERT INTO scan_chunks (run_id, chunk, symbols) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING "
            "RETURNING chunk",
            (message.scan_id, message.chunk, len(message.symbols)),
        ).fetchone()
        if fresh is None:
            return False
        with conn.cursor() as cur:
            cur.executemany(UPSERT_SIGNAL, rows)
        counted: Any = conn.execute(
            "UPDATE scan_runs SET chunks_done = chunks_done + 1, total_scanned = total_scanned + %s "
            "WHERE id = %s RETURNING chunks_done, chunks_total, status",
            (len(message.symbols), message.scan_id),
        ).fetchone()
        if counted["chunks_done"] >= counted["chunks_total"] and counted["status"] == "running":
            _complete(conn, message.scan_id)
    return True


def _complete(conn: Any, scan_id: int) -> None:
    """The merge step, run by the last chunk inside its transaction (it holds the run's row lock)."""
    conn.execute(
        "UPDATE scan_runs SET status = 'done', finished_at = now(), "
        "valid_signals = (SELECT count(*) FROM scan_signals WHERE run_id = %s AND valid) WHERE id = %s",
        (scan_id, scan_id),
    )
    log.info("scan done", extra={"scan_id": scan_id})


# -- starting a run ---------------------------------------------------------------------------------


def start_scan(request: ScanRequest, trigger: Literal["api", "schedule"] = "api") -> int:
    """Create a run and queue its chunks on ScanQueue; without a queue (a run outside the cloud), analyse
    them here. A queue that refuses the messages fails the run (it could never complete)."""
    from kstock.loads import send  # the SQS client is only needed when a run starts

    scan_id, messages = create_run(request, trigger)
    url = get_settings().scan_queue_url
    if url is None:
        log.warning("SCAN_QUEUE_URL is not configured: scan %d runs in-process", scan_id)
        for message in messages:
            run_chunk(message)
        return scan_id
    try:
        send(url, [m.wire() for m in messages])
    except Exception as exc:
        fail_run(scan_id, f"queueing its chunks failed: {exc}")
        raise
    return scan_id
