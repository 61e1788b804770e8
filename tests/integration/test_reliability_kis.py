"""Issue 17, finding 7: a hung KIS (accepts, never answers) is a 503 STREAM_UNAVAILABLE within the
request's KIS budget, not a 502 once the function's 30 s are gone; polling codes that name nothing
listed is the client's 400, not a 503."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from support.envs import environment
from support.kis import forget_kis_tokens

from kstock import cache, keys
from kstock.kis import deadline
from kstock.kis.errors import KisDeadlineExceeded, KisUnavailable


class HungServer:
    """A TCP server that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def hung_kis(services) -> Iterator[HungServer]:
    server = HungServer()
    forget_kis_tokens()
    # per attempt and in attempts, what made the route outlive the function's 30 s
    with environment(
        KIS_REST_URL=f"http://127.0.0.1:{server.port}",
        KIS_REST_TIMEOUT="10",
        KIS_REST_MAX_ATTEMPTS="5",
        KIS_REQUEST_DEADLINE_SECONDS="1.5",
    ):
        yield server
    server.close()
    forget_kis_tokens()


def test_polling_a_hung_kis_is_503_after_one_attempt_within_the_budget(api, hung_kis):
    cache.client().delete(keys.latest_price("051910"), keys.latest_price("000660"))
    status, body, _ = api("GET", "/realtime-prices/polling", query={"tickers": "051910,000660"})
    assert (status, body["status"], body["code"]) == (503, 503, "STREAM_UNAVAILABLE"), body
    # before the budget: five attempts per code, 10 s each; now the one hung attempt spends it and
    # neither a retry nor the second code opens another connection
    assert len(hung_kis.accepted) == 1


def test_the_budget_cuts_attempt_timeouts_and_never_extends(services):
    assert deadline.timeout(10.0) == 10.0  # outside a request: the client's own timeout
    with deadline.within(100.0):
        assert deadline.timeout(10.0) == 10.0  # plenty left: the attempt keeps its own timeout
        with deadline.within(0.0):  # nested and spent
            with pytest.raises(KisDeadlineExceeded):
                deadline.timeout(10.0)
        with deadline.within(500.0):  # a nested budget cannot lengthen the outer one
            assert deadline.remaining() is not None and deadline.remaining() <= 100.0  # type: ignore[operator]
    assert deadline.remaining() is None
    assert issubclass(KisDeadlineExceeded, KisUnavailable)


@pytest.mark.parametrize("tickers", ["999999", "999999,999998", "005930,999999"])
def test_polling_codes_that_name_nothing_listed_is_invalid_request(api, tickers):
    status, body, _ = api("GET", "/realtime-prices/polling", query={"tickers": tickers})
    assert (status, body["code"]) == (400, "INVALID_REQUEST"), body
    assert "999999" in body["message"] and "005930" not in body["message"]
