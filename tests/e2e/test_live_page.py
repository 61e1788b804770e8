"""The live page at the local gateway's /live, in headless Chromium driven over the DevTools
protocol: it logs in through the HTTP API, subscribes and shows prices ticking."""

from __future__ import annotations

import json
import re
import time

import pytest
from support.browser import CHROMIUM, Page
from support.live import emit
from support.users import PASSWORD, make_user
from support.waiting import wait_for

SHOWN = ["005930", "000660", "035420"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make test` installs it as root)")


def test_live_page_shows_prices_ticking(cloud, streamer, sim, api, fast_bcrypt, tmp_path):
    user = make_user(api)
    page = Page(f"http://127.0.0.1:{cloud.ports.websocket}/live")
    try:
        page.fill_in(user.email, PASSWORD, SHOWN)
        prices = (
            "Object.fromEntries([...document.querySelectorAll('tr[data-symbol]')].map(tr => [tr.dataset.symbol,"
            " [tr.querySelector('.price').textContent, tr.querySelector('.ticks').textContent]]))"
        )

        def all_priced():
            for symbol in SHOWN:
                emit(sim, symbol)
            shown = page.evaluate(prices) or {}
            return shown if all(shown.get(s, ["-"])[0] != "-" for s in SHOWN) else None

        first = wait_for(all_priced, 20, "a price in every row", interval=0.3)
        label = "document.getElementById('source').hidden ? '' : document.getElementById('source').textContent"
        assert "simulated" in wait_for(lambda: page.evaluate(label), 20, "the simulated-market label", interval=0.3)
        assert page.evaluate("document.getElementById('status').textContent").startswith("live:")
        before = page.screenshot()
        (tmp_path / "live-1.png").write_bytes(before)

        def changed():
            for symbol in SHOWN:
                emit(sim, symbol, 5)
            shown = page.evaluate(prices)
            moved = [s for s in SHOWN if shown[s][0] != first[s][0]]
            return shown if moved and all(int(shown[s][1]) > int(first[s][1]) for s in SHOWN) else None

        later = wait_for(changed, 30, "prices changing on the page", interval=0.3)
        after = page.screenshot()
        (tmp_path / "live-2.png").write_bytes(after)
        assert after[:8] == b"\x89PNG\r\n\x1a\n" and after != before
        assert all(re.fullmatch(r"[\d,]+", later[s][0]) for s in SHOWN)
    finally:
        page.close()


def test_a_newcomer_signs_up_on_the_page_and_is_told_why_a_socket_is_refused(
    cloud,
    streamer,
    sim,
    api,
    fast_bcrypt,
):
    page = Page(f"http://127.0.0.1:{cloud.ports.websocket}/live")
    email = f"page-{time.monotonic_ns()}@example.com"

    def text(element: str) -> str:
        """An element's text, or '' while a reload has the page between documents."""
        try:
            return page.evaluate(f"(document.getElementById('{element}') || {{}}).textContent || ''")
        except AssertionError:  # "Execution context was destroyed" mid-navigation
            return ""

    try:
        page.fill_in(email, "Sturdy#Pass1", ["005930"], button="#signup-button")
        wait_for(lambda: text("status").startswith("live:"), 30, "live after signing up on the page", interval=0.3)
        status_code, _, _ = api("POST", "/users/login", body=json.dumps({"email": email, "password": "Sturdy#Pass1"}))
        assert status_code == 200, "the page created a real account"

        page.evaluate("window.beforeReload = true")
        page.call("Page.reload")  # the token is remembered for the tab: no second login

        def reloaded_and_live() -> bool:
            try:
                fresh = page.evaluate("window.beforeReload === undefined && document.readyState == 'complete'")
            except AssertionError:
                return False
            return bool(fresh) and text("status").startswith("live:")

        wait_for(reloaded_and_live, 30, "live again after a reload", interval=0.3)

        page.evaluate("sessionStorage.setItem('kstock.accessToken', 'not-a-token')")
        page.call("Page.reload")
        refused = wait_for(lambda: text("error") or None, 30, "the page to say why", interval=0.3)
        assert "refused" in refused and "log in again" in refused
        assert page.evaluate("sessionStorage.getItem('kstock.accessToken')") is None
    finally:
        page.close()
