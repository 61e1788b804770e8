"""Lambda "containers" for the template's functions: a small pool of worker processes per
function, each with that function's environment, importing its handler once and serving one
event at a time — the way Lambda runs them, without Docker."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from infra.lambda_runtime import invoke_reporting_errors, load_handler
from infra.supervisor import log
from infra.template import FunctionSpec, Template


class FunctionError(RuntimeError):
    """The handler raised: carries Lambda's error payload (errorType, errorMessage, stackTrace)."""

    def __init__(self, function: str, payload: dict[str, Any]) -> None:
        super().__init__(f"{function}: {payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


def _worker_init(environment: dict[str, str], handler: str, code_dir: str) -> None:
    # Ctrl-C reaches the whole process group; only the supervisor decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(environment)
    load_handler(handler, Path(code_dir))


class LocalFunction:
    def __init__(self, spec: FunctionSpec, code_dir: Path, environment: dict[str, str], concurrency: int) -> None:
        self.spec = spec
        self.code_dir = code_dir
        # The template's variables, then what the local stack sets (its services, environment name):
        # locally the stack is the deployment's parameter set.
        self.environment = {**spec.environment, **environment,
                            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory)}
        self.concurrency = concurrency
        self._pool: ProcessPoolExecutor | None = None
        self.invocations = 0
        self.errors = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.concurrency, mp_context=get_context("spawn"), initializer=_worker_init,
                initargs=(self.environment, self.spec.handler, str(self.code_dir)))
        return self._pool

    async def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on ``event``; raise :class:`FunctionError` if it raised."""
        loop = asyncio.get_running_loop()
        self.invocations += 1
        ok, result = await loop.run_in_executor(
            self._executor(), invoke_reporting_errors, self.spec.handler, event, self.spec.name,
            self.code_dir, self.spec.timeout)
        if not ok:
            self.errors += 1
            # what Lambda writes to the function's log when a handler raises
            log(self.spec.logical_id, "".join(result["stackTrace"]).rstrip())
            raise FunctionError(self.spec.logical_id, result)
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


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
