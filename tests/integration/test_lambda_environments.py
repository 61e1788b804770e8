"""The local Lambda execution environments (kstock_local.cloud.lambdas.pool): one process per environment, at
most ``concurrency`` of them, reused warm, replaced when they die, killed past the timeout."""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time

import pytest

from kstock_local.cloud.lambdas.pool import FunctionError, LocalFunction
from kstock_local.cloud.template import FunctionSpec

HANDLER = textwrap.dedent("""
    import os
    import time

    def handler(event, context):
        action = event.get("action")
        if action == "sleep":
            time.sleep(event["seconds"])
        elif action == "exit":
            os._exit(3)
        elif action == "raise":
            raise ValueError("boom")
        return {"pid": os.getpid(), "greeting": os.environ.get("GREETING"),
                "function": context.function_name, "echo": event.get("echo")}
""")


@pytest.fixture
def function(tmp_path):
    (tmp_path / "probe.py").write_text(HANDLER)
    spec = FunctionSpec(
        logical_id="ProbeFunction",
        name="probe",
        handler="probe.handler",
        code_uri=".",
        environment={"GREETING": "from the template"},
        timeout=2.0,
        memory=128,
    )
    made = LocalFunction(spec, tmp_path, {"STACK": "local"}, concurrency=2)
    yield made
    made.close()


def test_environment_is_warm_and_configured(function):
    first = asyncio.run(function.invoke({"echo": "한글"}))
    second = asyncio.run(function.invoke({}))  # another event loop: environments are not bound to one
    assert first["greeting"] == "from the template" and first["function"] == "probe" and first["echo"] == "한글"
    assert second["pid"] == first["pid"]  # the same warm process served both


def test_concurrency_is_bounded_and_every_event_is_served(function):
    async def burst():
        return await asyncio.gather(
            *(function.invoke({"action": "sleep", "seconds": 0.2, "echo": n}) for n in range(6))
        )

    answers = asyncio.run(burst())
    assert [a["echo"] for a in answers] == list(range(6))
    assert len({a["pid"] for a in answers}) == 2  # never more environments than the concurrency


def test_invocations_from_two_threads_share_the_environments(function):
    results: list[dict] = []

    def caller(n: int) -> None:
        results.append(asyncio.run(function.invoke({"action": "sleep", "seconds": 0.1, "echo": n})))

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r["echo"] for r in results) == [0, 1, 2, 3]
    assert len({r["pid"] for r in results}) <= 2


def test_handler_error_is_reported_and_the_environment_survives(function):
    warm = asyncio.run(function.invoke({}))["pid"]
    with pytest.raises(FunctionError) as raised:
        asyncio.run(function.invoke({"action": "raise"}))
    assert raised.value.payload["errorType"] == "ValueError" and raised.value.payload["errorMessage"] == "boom"
    assert asyncio.run(function.invoke({}))["pid"] == warm


def test_dead_environment_is_reported_and_replaced(function):
    warm = asyncio.run(function.invoke({}))["pid"]
    with pytest.raises(FunctionError) as raised:
        asyncio.run(function.invoke({"action": "exit"}))
    assert raised.value.payload["errorType"] == "Runtime.ExitError"
    assert asyncio.run(function.invoke({}))["pid"] != warm


def test_timeout_kills_the_environment(function):
    started = time.monotonic()
    with pytest.raises(FunctionError) as raised:
        asyncio.run(function.invoke({"action": "sleep", "seconds": 30}))
    assert raised.value.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in raised.value.payload["errorMessage"]
    assert time.monotonic() - started < 25  # killed at its 2 s timeout, long before the 30 s sleep ends
    assert asyncio.run(function.invoke({"echo": "after"}))["echo"] == "after"  # a fresh one took its place
    assert function.errors == 1
