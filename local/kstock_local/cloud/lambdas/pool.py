"""Lambda "containers" for the template's functions: up to ``concurrency`` execution environments
per function, each a process of :mod:`kstock_local.cloud.lambdas.worker` with that function's environment,
importing its handler once and serving one event at a time — the way Lambda runs them, without
Docker. An environment that dies is replaced; one that overruns the function's timeout is killed,
as Lambda does.

:meth:`LocalFunction.invoke` may be awaited from any event loop in any thread (the gateway's, a
test's ``asyncio.run``): the environments' sockets are driven by whichever loop is calling.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import subprocess
import sys
import threading
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from kstock_local.cloud.lambdas.worker import FRAME_HEADER, frame
from kstock_local.cloud.template import FunctionSpec, Template
from kstock_local.supervisor import log


class FunctionError(RuntimeError):
    """The invocation failed: carries Lambda's error payload (errorType, errorMessage, stackTrace)."""

    def __init__(self, function: str, payload: dict[str, Any]) -> None:
        super().__init__(f"{function}: {payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


class _Environment:
    """One worker process and the gateway's end of its socket. The worker exits when the socket
    closes, so it cannot outlive this process (no parent-death signal: Linux ties that to the
    creating thread, and environments are started from whichever thread invokes)."""

    def __init__(self, spec: FunctionSpec, code_dir: Path, environment: dict[str, str]) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kstock_local.cloud.lambdas.worker",
                    spec.handler,
                    str(code_dir),
                    spec.name,
                    str(spec.timeout),
                    str(theirs.fileno()),
                ],
                env={**os.environ, **environment},
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self.channel = ours

    async def exchange(self, event: dict[str, Any]) -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.channel, frame(event))
        (size,) = FRAME_HEADER.unpack(await self._read(loop, FRAME_HEADER.size))
        ok, value = pickle.loads(await self._read(loop, size))  # the runtime's (ok, result or error) answer
        return bool(ok), value

    async def _read(self, loop: asyncio.AbstractEventLoop, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        while received < size:
            count = await loop.sock_recv_into(self.channel, view[received:])
            if count == 0:
                raise ConnectionResetError("the execution environment exited")
            received += count
        return bytes(buffer)

    def close(self, *, kill: bool = False) -> None:
        self.channel.close()  # the worker reads EOF and exits
        if kill:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class LocalFunction:
    def __init__(self, spec: FunctionSpec, code_dir: Path, environment: dict[str, str], concurrency: int) -> None:
        self.spec = spec
        self.code_dir = code_dir
        # The template's variables, then what the local stack sets (its services, environment name):
        # locally the stack is the deployment's parameter set.
        self.environment = {
            **spec.environment,
            **environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        }
        self.concurrency = concurrency
        self.invocations = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._idle: deque[_Environment] = deque()
        self._started = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[_Environment]]] = deque()
        self._closed = False

    @property
    def environments(self) -> int:
        """Execution environments started and alive (at most ``concurrency``)."""
        return self._started

    async def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on ``event``; raise :class:`FunctionError` if it raised, timed out or died."""
        self.invocations += 1
        environment = await self._acquire()
        try:
            ok, result = await asyncio.wait_for(environment.exchange(event), self.spec.timeout)
        except TimeoutError:
            await asyncio.to_thread(environment.close, kill=True)
            self._release(None)
            ok, result = (
                False,
                {
                    "errorType": "Sandbox.Timedout",
                    "stackTrace": [],
                    "errorMessage": f"RequestId: {uuid.uuid4()} Error: Task timed out after "
                    f"{self.spec.timeout:.2f} seconds",
                },
            )
        except (ConnectionError, OSError, pickle.UnpicklingError, asyncio.CancelledError) as exc:
            await asyncio.to_thread(environment.close, kill=True)
            self._release(None)
            if isinstance(exc, asyncio.CancelledError):  # a half-read answer leaves the socket unusable
                raise
            ok, result = (
                False,
                {
                    "errorType": "Runtime.ExitError",
                    "stackTrace": [],
                    "errorMessage": f"the execution environment exited ({type(exc).__name__})",
                },
            )
        else:
            self._release(environment)
        if not ok:
            self.errors += 1
            # what Lambda writes to the function's log when a handler raises
            log(self.spec.logical_id, ("".join(result["stackTrace"]) or result["errorMessage"]).rstrip())
            raise FunctionError(self.spec.logical_id, result)
        return result

    async def _acquire(self) -> _Environment:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.spec.logical_id} is closed")
            if self._idle:
                return self._idle.popleft()
            start = self._started < self.concurrency
            if start:
                self._started += 1
            else:
                loop = asyncio.get_running_loop()
                waiter: asyncio.Future[_Environment] = loop.create_future()
                self._waiters.append((loop, waiter))
        if start:
            try:
                return _Environment(self.spec, self.code_dir, self.environment)
            except BaseException:
                self._release(None)
                raise
        return await waiter

    def _release(self, environment: _Environment | None) -> None:
        """Hand ``environment`` (``None``: its slot, the process is gone) to a waiter or the idle pool."""
        with self._lock:
            if self._closed and environment is not None:
                self._started -= 1
                environment.close()
                return
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                if waiter.done():  # its caller was cancelled
                    continue
                if environment is None:
                    try:
                        environment = _Environment(self.spec, self.code_dir, self.environment)
                    except OSError:
                        self._started -= 1
                        loop.call_soon_threadsafe(_fail, waiter)
                        return
                loop.call_soon_threadsafe(_hand_over, waiter, environment, self)
                return
            if environment is None:
                self._started -= 1
            else:
                self._idle.append(environment)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
            self._started -= len(idle)
        for environment in idle:
            environment.close()


def _hand_over(waiter: asyncio.Future[_Environment], environment: _Environment, function: LocalFunction) -> None:
    if waiter.done():  # cancelled between release and now: give it to the next one
        function._release(environment)
    else:
        waiter.set_result(environment)


def _fail(waiter: asyncio.Future[_Environment]) -> None:
    if not waiter.done():
        waiter.set_exception(RuntimeError("could not start an execution environment"))


class FunctionRegistry:
    """Every function of a template, created on first use."""

    def __init__(self, template: Template, environment: dict[str, str], concurrency: int = 2) -> None:
        self.template = template
        self.environment = environment
        self.concurrency = concurrency
        self._functions: dict[str, LocalFunction] = {}

    def get(self, logical_id: str) -> LocalFunction:
        if logical_id not in self._functions:
            spec = self.template.functions[logical_id]
            code_dir = (self.template.path.parent / spec.code_uri).resolve()
            self._functions[logical_id] = LocalFunction(spec, code_dir, self.environment, self.concurrency)
        return self._functions[logical_id]

    def close(self) -> None:
        for function in self._functions.values():
            function.close()
