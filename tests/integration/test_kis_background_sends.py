"""subscribe(wait=False) sends run as background tasks that the session holds until they are done
(asyncio keeps only weak references to tasks) and that close() ends: nothing is left running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from support.kis import auth, run, running_simulator
from websockets.asyncio.server import ServerConnection, serve

from kstock.kis.connection import KisWebSocket


class FixedApproval:
    """An approval source for a server that never checks the key."""

    def approval_key(self, fresh: bool = False) -> str:
        return "approval-key-for-a-silent-server"


@asynccontextmanager
async def silent_server() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A WebSocket server on a free port that reads every message and answers none (a KIS that
    never acknowledges a subscription). The event is set when the first message arrives."""
    received = asyncio.Event()

    async def handler(connection: ServerConnection) -> None:
        async for _message in connection:
            received.set()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}", received


def test_a_send_without_waiting_is_held_until_kis_answers() -> None:
    with running_simulator() as simt:

        async def body() -> None:
            ws = KisWebSocket(simt.sim.ws_url + "/tryitout", auth(simt.sim), reconnect_initial=0.05)
            async with ws:
                await ws.wait_until(lambda s: s.connected, 10)
                await ws.subscribe("H0STCNT0", "005930", wait=False)
                # referenced while the send waits for its acknowledgement, released once answered
                assert ws.snapshot().background_sends == 1
                state = await ws.wait_until(
                    lambda s: ("H0STCNT0", "005930") in s.subscriptions and s.background_sends == 0, 10
                )
                assert state.last_error is None

        run(body())


def test_close_ends_a_send_that_kis_never_answered() -> None:
    async def body() -> None:
        async with silent_server() as (url, received):
            ws = KisWebSocket(url, FixedApproval(), ack_timeout=600.0, reconnect_initial=0.05)
            await ws.start()
            await ws.wait_until(lambda s: s.connected, 10)
            await ws.subscribe("H0STCNT0", "005930", wait=False)
            await asyncio.wait_for(received.wait(), 10)
            assert ws.snapshot().background_sends == 1  # still waiting for an answer that never comes
            await ws.close()
            assert ws.snapshot().background_sends == 0
            leftovers = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
            assert not any(t.get_name().startswith("kis-ws") for t in leftovers), leftovers

    run(body())
