"""Scans in-process (issue 15): universe selection, chunks counted once, the last chunk completes the run,
results sorted and limited as asked, RS ranked against the whole universe."""

from __future__ import annotations

import pytest
from support.envs import environment
from support.scans import an_elw, daily_bars, forget_scans, no_kis, symbols_of

from kstock import db
from kstock.config import reload_settings
from kstock.errors import NotFound
from kstock.scans import answers, service
from kstock.scans.bars import load_bars
from kstock.scans.rs import rank_against, weighted_return


@pytest.fixture(scope="module")
def kosdaq(database):
    # The 100 a default KOSDAQ scan takes (maxTickers 100; no market caps in the test database, so by
    # symbol), each with its own daily history.
    symbols = symbols_of("KOSDAQ")[:100]
    with daily_bars(symbols) as bars, an_elw() as elw, environment(**no_kis()):
        reload_settings()
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
    reload_settings()


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
        kospi = service.universe(conn, service.ScanRequest(market="KOSPI", max_tickers=5000))
        assert "0030R0" in kospi  # a stock whose code carries a letter (KRX codes since 2024) is no ELW


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


def test_smart_money_reads_the_kis_investor_trend_matched_by_day(database):
    from datetime import datetime, time

    import numpy as np
    from support.kis import forget_kis_tokens, rest_client, running_simulator

    from kstock.kis.investor import investor_trend
    from kstock.market.calendar import KST
    from kstock.scans.smartmoney import smart_money_score

    symbol = "005930"
    with running_simulator() as sim:
        days = investor_trend(rest_client(sim.sim), symbol)
        assert len(days) >= service.FLOW_DAYS and [d.day for d in days] == sorted(d.day for d in days)
        assert any(d.foreign_net for d in days) and all(
            d.individual_net == -(d.foreign_net + d.institution_net) for d in days
        )
        recent = days[-service.FLOW_DAYS :]
        with db.transaction() as conn:
            conn.execute("DELETE FROM ohlcv_1d WHERE symbol = %s", (symbol,))
            for n, d in enumerate(recent):
                conn.execute(
                    "INSERT INTO ohlcv_1d (symbol, bucket, open, high, low, close, volume) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (symbol, datetime.combine(d.day, time(), KST), d.close, d.close, d.close, d.close, 1_000_000 + n),
                )
        try:
            forget_kis_tokens()  # a token another simulator issued means nothing to this one
            with environment(KIS_REST_URL=sim.sim.rest_url, KIS_TOKEN_MIN_INTERVAL="0"):
                reload_settings()
                service._kis_paused_until = 0.0  # an earlier test found KIS down on purpose
                flows = service.investor_flows([symbol, "999990"])
        finally:
            reload_settings()
            forget_kis_tokens()
            with db.transaction() as conn:
                conn.execute("DELETE FROM ohlcv_1d WHERE symbol = %s", (symbol,))
    assert flows is not None
    assert list(flows.foreign_net[0]) == [d.foreign_net for d in recent]
    assert list(flows.institution_net[0]) == [d.institution_net for d in recent]
    assert list(flows.volume[0]) == [1_000_000 + n for n in range(service.FLOW_DAYS)]
    assert np.isnan(flows.foreign_net[1]).all()  # a symbol KIS does not know: no flows, not zeros
    score = smart_money_score(flows.foreign_net, flows.institution_net, flows.volume)
    assert 0 <= score[0] <= 100 and np.isnan(score[1])


def test_without_kis_a_chunk_goes_on_without_smart_money(kosdaq):
    service._kis_paused_until = 0.0
    assert service.investor_flows(kosdaq[0][:3]) is None
    assert service._kis_paused_until > 0  # and the process stops asking for a while
