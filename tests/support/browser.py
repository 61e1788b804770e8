"""Headless Chromium driven over the DevTools protocol, for the live pages' tests (tests/e2e)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from typing import Any

from websockets.sync.client import connect

from support.waiting import Deadline, wait_for

# None when Chromium is not installed: the page tests skip (`make test` installs it as root).
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab of a headless Chromium, spoken to over the DevTools protocol."""

    def __init__(self, url: str) -> None:
        # a crash handler or renderer that outlives the browser by a moment can still write to the profile:
        # it is killed with the process group below, and a leftover file never fails a test that passed
        self.profile = tempfile.TemporaryDirectory(prefix="kstock-chromium-", ignore_cleanup_errors=True)
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
            start_new_session=True,  # its own process group: close() ends the helpers with the browser
        )
        port = None
        deadline = Deadline(30, "chromium's DevTools port")
        while port is None and not deadline.expired():
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                break
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = found and int(found.group(1))
        assert port, "chromium did not open its DevTools port"

        def page_target() -> dict[str, Any] | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                return next((t for t in json.load(answer) if t["type"] == "page"), None)

        target = wait_for(page_target, 15, "chromium's page")
        self.ws = connect(target["webSocketDebuggerUrl"], open_timeout=15, max_size=None).__enter__()
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        request_id = next(self.ids)
        self.ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=15))
            if message.get("id") == request_id:
                assert "error" not in message, message
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def fill_in(self, email: str, password: str, symbols: list[str], button: str = "#login button") -> None:
        """Wait for the live page's form, fill it in and press ``button`` (log in; ``#signup-button`` signs up)."""
        wait_for(
            lambda: self.evaluate("document.readyState == 'complete' && !!document.getElementById('login')"),
            15,
            "the page",
        )
        self.evaluate(f"""
            document.getElementById('email').value = {json.dumps(email)};
            document.getElementById('password').value = {json.dumps(password)};
            document.getElementById('symbols').value = {json.dumps(",".join(symbols))};
            document.querySelector({json.dumps(button)}).click();""")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        self.ws.close()
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._signal_group(signal.SIGKILL)  # whatever of the group is left (zygote, crash handler)
        self.process.wait(10)
        self.profile.cleanup()

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
