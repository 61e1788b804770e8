"""Scans in-process (issue 15): universe selection, chunks counted once, the last chunk completes the run,
results sorted and limited as asked, RS ranked against the whole universe."""

from __future__ import annotations

import pytest
from envs import environment
from scan_fixtures import an_elw, daily_bars, forget_scans, symbols_of

from kstock import db
from kstock.config import reload_settings
from kstock.errors import NotFound
from kstock.scans import answers, service
from kstock.scans.bars import load_bars
from kstock.scans.rs import rank_against, weighted_return


@pytest.fixture(scope="module")
def kosdaq(database):
    symbols = symbols_of("KOSDAQ")
    with daily_bars(symbols) as bars, an_elw() as elw:
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO ohlcv_1d (symbol, bucket, open, high, low, close, volume, amount) "
                "SELECT %s, bucket, open, high, low, close, volume, amount FROM ohlcv_1d WHERE symbol = %s",
                (elw, symbols[0]),
            )
        yield symbols, bars
        with db.transaction() as conn:
            conn.execute("DELETE FROM ohlcv_1d WHERE symbol = %s", (elw,))
    forget_scans()


@pytest.fixture
def no_queue():
    with environment(SCAN_QUEUE_URL=None):
        reload_settings()
        yield
    reload_settings()


def test_the_universe_follows_market_elw_market_cap_and_max_tickers(kosdaq):
    symbols, _ = kosdaq
    with db.read() as conn:
        chosen = service.universe(conn, service.ScanRequest(market="KOSDAQ"))
        assert set(chosen) == set(symbols) and "57LA24" not in chosen
        with_elw = service.universe(conn, service.ScanRequest(market="KOSDAQ", exclude_elw=False, max_tickers=5))
        assert with_elw[0] == "57LA24" and len(with_elw) == 5  # the largest market cap first
        everything = service.universe(conn, service.ScanRequest(market="ALL", max_tickers=5000))
        assert set(symbols) < set(everything) and set(symbols_of("KOSPI")) < set(everything)
        big = service.universe(conn, service.ScanRequest(market="ALL", min_market_cap=10**15, exclude_elw=False))
        assert big == ["57LA24"]


def test_a_chunk_counts_once_and_the_last_one_completes_the_run(kosdaq):
    symbols, _ = kosdaq
    request = service.ScanRequest(market="KOSDAQ", top_n=5)
    scan_id, messages = service.create_run(request)
    assert [len(m.symbols) for m in messages] == [50, len(symbols) - 50]
    assert answers.scan_answer(scan_id).status == "running"
    assert service.run_chunk(messages[0]) is True
    assert service.run_chunk(messages[0]) is False  # redelivered: nothing counted twice
    half = answers.scan_answer(scan_id)
    assert (half.status, half.progress.chunks_done, half.progress.symbols_done, half.results) == (
        "running",
        1,
        50,
        None,
    )
    assert service.run_chunk(messages[1]) is True
    done = answers.scan_answer(scan_id)
    assert (done.status, done.total_scanned, done.progress.chunks_done, done.progress.chunks_total) == (
        "done",
        len(symbols),
        2,
        2,
    )
    assert done.returned == len(done.results or []) == 5
    scores = [r.score for r in done.results or []]
    assert scores == sorted(scores, reverse=True)
    assert {r.market for r in done.results or []} == {"KOSDAQ"} and {r.grade for r in done.results or []} <= set("ABCD")
    with db.read() as conn:
        stored = conn.execute(
            "SELECT count(*) AS n, count(*) FILTER (WHERE valid) AS valid FROM scan_signals WHERE run_id = %s",
            (scan_id,),
        ).fetchone()
    assert stored["n"] == len(symbols) and done.valid_signals == stored["valid"]
    assert service.run_chunk(messages[1]) is False  # after the run is done, a late copy changes nothing
    assert answers.scan_answer(scan_id).total_scanned == len(symbols)


def test_rs_ranks_each_chunk_against_the_whole_universe(kosdaq, no_queue):
    symbols, _ = kosdaq
    scan_id = service.start_scan(service.ScanRequest(market="KOSDAQ", top_n=200))  # in-process without a queue
    answer = answers.scan_answer(scan_id)
    assert answer.status == "done" and answer.returned == len(symbols)
    with db.read() as conn:
        returns = weighted_return(load_bars(conn, symbols).close)
    expected = dict(zip(symbols, rank_against(returns, returns), strict=True))
    assert {r.symbol: r.rs_rank for r in answer.results or []} == {s: float(v) for s, v in expected.items()}
    assert answers.latest_answer().scan_id == scan_id


def test_sorting_by_volume_ascending(kosdaq, no_queue):
    scan_id = service.start_scan(service.ScanRequest(market="KOSDAQ", top_n=7, sort_by="volume", sort_order="asc"))
    results = answers.scan_answer(scan_id).results or []
    volumes = [r.volume for r in results]
    assert len(results) == 7 and volumes == sorted(volumes)


def test_an_empty_universe_is_done_at_once_and_unknown_runs_are_refused(kosdaq, no_queue):
    scan_id = service.start_scan(service.ScanRequest(market="KOSPI", min_market_cap=10**18))
    answer = answers.scan_answer(scan_id)
    assert (answer.status, answer.total_scanned, answer.results) == ("done", 0, [])
    with pytest.raises(service.UnknownScan):
        service.run_chunk(service.ChunkMessage(scan_id=10**12, chunk=0, symbols=["005930"]))
    with pytest.raises(NotFound):
        answers.scan_answer(10**12)


def test_the_daily_scan_runs_once_per_day(kosdaq, no_queue):
    first = service.start_scan(service.ScanRequest(market="KOSDAQ"), trigger="schedule")
    again, messages = service.create_run(service.ScanRequest(market="KOSDAQ"), trigger="schedule")
    assert again == first and messages == []
