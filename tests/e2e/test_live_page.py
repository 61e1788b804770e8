"""The live page at the local gateway's /live, in headless Chromium driven over the DevTools
protocol: it logs in through the HTTP API, subscribes and shows prices ticking."""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest
from api_fixtures import fast_bcrypt, make_user  # noqa: F401 (fixture)
from cloud_fixtures import moto_endpoint, wait_for  # noqa: F401 (fixture)
from test_ws_live import cloud, emit, env, r, sim, streamer  # noqa: F401 (fixtures)
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOWN = ["005930", "000660", "035420"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make test` installs it as root)")


class Page:
    """One tab of a headless Chromium, spoken to over the DevTools protocol."""

    def __init__(self, url: str) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="kstock-chromium-")
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                f"--user-data-dir={self.profile.name}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1000,600",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                break
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = found and int(found.group(1))
        assert port, "chromium did not open its DevTools port"

        def page_target():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                return next((t for t in json.load(answer) if t["type"] == "page"), None)

        target = wait_for(page_target, 15, "chromium's page")
        self.ws = connect(target["webSocketDebuggerUrl"], open_timeout=15, max_size=None).__enter__()
        self.ids = itertools.count(1)

    def call(self, method: str, **params) -> dict:
        request_id = next(self.ids)
        self.ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=15))
            if message.get("id") == request_id:
                assert "error" not in message, message
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.profile.cleanup()


def test_live_page_shows_prices_ticking(cloud, streamer, sim, api, fast_bcrypt, tmp_path):  # noqa: F811
    user = make_user(api)
    page = Page(f"http://127.0.0.1:{cloud.ports.websocket}/live")
    try:
        wait_for(
            lambda: page.evaluate("document.readyState == 'complete' && !!document.getElementById('login')"),
            15,
            "the page",
        )
        page.evaluate(f"""
            document.getElementById('email').value = {json.dumps(user.email)};
            document.getElementById('password').value = 'Passw0rd!';
            document.getElementById('symbols').value = {json.dumps(",".join(SHOWN))};
            document.querySelector('#login button').click();""")
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


def test_a_newcomer_signs_up_on_the_page_and_is_told_why_a_socket_is_refused(  # noqa: F811
    cloud,  # noqa: F811
    streamer,  # noqa: F811
    sim,  # noqa: F811
    api,  # noqa: F811
    fast_bcrypt,  # noqa: F811
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
        wait_for(
            lambda: page.evaluate("document.readyState == 'complete' && !!document.getElementById('login')"),
            15,
            "the page",
        )
        page.evaluate(f"""
            document.getElementById('email').value = {json.dumps(email)};
            document.getElementById('password').value = 'Sturdy#Pass1';
            document.getElementById('symbols').value = '005930';
            document.getElementById('signup-button').click();""")
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
