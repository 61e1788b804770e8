"""The live page shows the order book of the selected symbol (issue 18 item 1), in headless Chromium:
the first watched symbol's book after login, another symbol's after a click on its row."""

from __future__ import annotations

import pytest
from support.browser import CHROMIUM, Page
from support.live import emit
from support.users import PASSWORD, make_user
from support.waiting import wait_for

from kstock_local.kis_sim.ticksize import step_up

SHOWN = ["005930", "000660"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make test` installs it as root)")

BOOK = """(() => {
  const pane = document.getElementById('orderbook');
  const side = name => [...pane.querySelectorAll(`tbody tr.${name}`)].map(tr => Number(tr.dataset.price));
  return {symbol: pane.dataset.symbol || null, asks: side('ask'), bids: side('bid'),
          meta: pane.querySelector('.meta').textContent};
})()"""


def _book_of(page: Page, sim, symbol: str) -> dict:
    def shown():
        emit(sim, symbol)  # each trade sends a book
        book = page.evaluate(BOOK) or {}
        return book if book.get("symbol") == symbol and book.get("asks") and book.get("bids") else None

    return wait_for(shown, 20, f"the order book of {symbol} on the page", interval=0.3)


def _on_the_ladder(book: dict) -> None:
    asks = list(reversed(book["asks"]))  # shown best ask at the bottom of the asks, next to the best bid
    bids = book["bids"]
    assert len(asks) == len(bids) == 10, book
    assert asks[0] > bids[0], book
    assert all(step_up(lower) == higher for lower, higher in zip(asks, asks[1:], strict=False)), book
    assert all(step_up(lower) == higher for higher, lower in zip(bids, bids[1:], strict=False)), book
    assert "asks" in book["meta"] and "KST" in book["meta"]


def test_live_page_shows_the_selected_symbols_order_book(cloud, streamer, sim, api, fast_bcrypt):
    user = make_user(api)
    page = Page(f"http://127.0.0.1:{cloud.ports.websocket}/live")
    try:
        page.fill_in(user.email, PASSWORD, SHOWN)
        _on_the_ladder(_book_of(page, sim, SHOWN[0]))
        page.evaluate(f"document.querySelector('tr[data-symbol=\"{SHOWN[1]}\"]').click()")
        _on_the_ladder(_book_of(page, sim, SHOWN[1]))
        wait_for(lambda: not streamer.fanout.books.subscribers(SHOWN[0]), 10, "the first book unsubscribed")
        assert streamer.fanout.books.subscribers(SHOWN[1])
    finally:
        page.close()
