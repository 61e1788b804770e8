"""The operators' commands: ``kstock news ingest`` and ``kstock dart sync`` against the stand-ins over
real sockets (the base URLs are settings), with progress; ``kstock llm usage`` from the call log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from support.content import content_of
from support.envs import environment

from kstock import db
from kstock.llm.calls import CallRecord, TokenUsage, record
from kstock_local.cli.content import DART_STAND_IN_KEY
from kstock_local.cli.main import main
from kstock_local.dart_sim import DartStandInConfig, DartStandInThread
from kstock_local.naver_sim import NaverStandInThread

SYMBOL = "035720"  # 카카오: no other module stores content for it


@pytest.fixture(scope="module")
def kakao(database) -> Iterator[dict[str, Any]]:
    with content_of(SYMBOL) as found:
        yield found


def count(sql: str, *params: Any) -> int:
    with db.read() as conn:
        return int(next(iter(conn.execute(sql, params).fetchone().values())))


def test_news_ingest_stores_a_companys_news_once_with_progress(kakao, capsys):
    with NaverStandInThread() as naver, environment(NAVER_API_URL=naver.url):
        assert main(["news", "ingest", "--symbols", SYMBOL]) == 0
        first = capsys.readouterr().out
        stored = count("SELECT count(*) FROM news_companies WHERE company_id = %s", kakao["id"])
        assert main(["news", "ingest", "--symbols", SYMBOL]) == 0  # again: nothing new
        again = capsys.readouterr().out
    assert naver.url in first and "1/1" in first and stored > 0
    assert f" {stored} new," in first.splitlines()[-1]  # every article of the query is linked to the company
    assert " 0 new," in again.splitlines()[-1]
    assert count("SELECT count(*) FROM news_companies WHERE company_id = %s", kakao["id"]) == stored
    assert (
        count(
            "SELECT count(*) FROM news n JOIN news_companies l ON l.news_id = n.id "
            "WHERE l.company_id = %s AND n.source <> 'simulated'",
            kakao["id"],
        )
        == 0
    )
    assert count("SELECT count(*) FROM data_refreshes WHERE company_id = %s AND kind = 'news'", kakao["id"]) == 1


def test_news_ingest_names_an_unknown_symbol(database, capsys):
    assert main(["news", "ingest", "--symbols", "999999"]) == 1
    assert "999999" in capsys.readouterr().err


def test_dart_sync_loads_filings_and_key_accounts_with_progress(kakao, capsys):
    with (
        DartStandInThread(DartStandInConfig()) as dart,
        environment(DART_API_URL=dart.url, DART_API_KEY=DART_STAND_IN_KEY),
    ):
        assert main(["dart", "sync", "--symbols", SYMBOL, "--years", "2", "--corp-codes"]) == 0
        out = capsys.readouterr().out
    lines = out.splitlines()
    assert dart.url in lines[0]
    assert any(line.startswith("filings:") and "1 companies" in line for line in lines)
    assert any(line.startswith("financials:") and "1 companies" in line for line in lines)
    assert "[" in out and "1/1" in out  # the progress bar
    years = count("SELECT count(DISTINCT fiscal_year) FROM financials WHERE company_id = %s", kakao["id"])
    assert 1 <= years <= 2  # this year's reports may not be filed yet
    assert count("SELECT count(*) FROM financials WHERE company_id = %s AND source <> 'simulated'", kakao["id"]) == 0
    assert count("SELECT count(*) FROM reports WHERE company_id = %s", kakao["id"]) > 0


def test_dart_sync_without_a_key_against_the_real_api_says_so(database, capsys):
    with environment(DART_API_URL=None, DART_API_KEY=None):
        assert main(["dart", "sync", "--symbols", SYMBOL]) == 1
    assert "DART_API_KEY" in capsys.readouterr().err


def test_llm_usage_prints_tokens_per_feature(database, capsys):
    day = date(2020, 1, 2)
    at = datetime(2020, 1, 2, 3, 0, tzinfo=UTC)  # noon in Korea
    try:
        for prompt, answer in ((120, 30), (80, 20)):
            record(
                CallRecord(
                    at,
                    "cli-test-feature",
                    "gemini-2.5-flash",
                    "ok",
                    900,
                    1,
                    TokenUsage(prompt, answer, 0, prompt + answer),
                )
            )
        assert main(["llm", "usage", "--day", day.isoformat()]) == 0
        out = capsys.readouterr().out
        row = next(line for line in out.splitlines() if "cli-test-feature" in line).split()
        assert row[1:] == ["2", "2", "0", "0", "200", "50", "0", "250"]  # calls ok failed refused tokens...
        assert main(["llm", "usage", "--day", "2020-01-03"]) == 0
        assert "none" in capsys.readouterr().out
    finally:
        with db.transaction() as conn:
            conn.execute("DELETE FROM llm_calls WHERE feature = 'cli-test-feature'")


def test_kstock_up_starts_both_stand_ins_on_the_configured_ports(database):
    """No Naver or DART key: `kstock up` runs the stand-ins on NAVER_SIM_PORT / DART_SIM_PORT and hands
    their URLs (and a placeholder DART key) to the functions."""
    import asyncio

    from kstock.config import get_settings
    from kstock.dart.client import DartClient
    from kstock.news.naver import NaverNewsClient
    from kstock_local.embedded import free_port
    from kstock_local.stack import _content_rows, _start_content_standins

    naver_port, dart_port = free_port(), free_port()
    environment_of_functions: dict[str, str] = {}

    def use_them() -> tuple[Any, Any]:
        with NaverNewsClient(environment_of_functions["NAVER_API_URL"], "x", "y") as naver:
            page = naver.search("삼성전자", display=5)
        with DartClient(environment_of_functions["DART_API_URL"], environment_of_functions["DART_API_KEY"]) as dart:
            return page, dart.corp_codes()

    async def scenario() -> tuple[Any, Any]:
        processes = await _start_content_standins(get_settings(), environment_of_functions)
        try:
            return await asyncio.to_thread(use_them)
        finally:
            for process in processes:
                await process.stop()

    with environment(
        NAVER_SIM_PORT=str(naver_port),
        DART_SIM_PORT=str(dart_port),
        NAVER_CLIENT_ID=None,
        NAVER_CLIENT_SECRET=None,
        DART_API_KEY=None,
        NAVER_API_URL=None,
        DART_API_URL=None,
    ):
        page, (codes, source) = asyncio.run(scenario())
        rows = dict(_content_rows(environment_of_functions))
    assert environment_of_functions == {
        "NAVER_API_URL": f"http://127.0.0.1:{naver_port}",
        "DART_API_URL": f"http://127.0.0.1:{dart_port}/api",
        "DART_API_KEY": DART_STAND_IN_KEY,
    }
    assert page.items and all(".simulated.kstock.local" in a.canonical_url for a in page.items)
    assert source == "simulated" and any(c.stock_code == "005930" for c in codes)
    assert "simulated" in rows["Naver news"] and "simulated" in rows["OpenDART"]
    assert rows["Gemini"].startswith(("off", "GOOGLE_API_KEY"))
