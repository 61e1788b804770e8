"""The template-driven local cloud: everything ``template.yaml`` wires, served on one machine.

Given a running AWS endpoint (moto or LocalStack), :class:`LocalCloud` provisions the template's
queues and tables, then serves its Api events (HTTP API), its WebSocket API (with
``@connections``), its schedules and its SQS event sources, all through the functions' local
containers. Nothing about routes, schedules or queues is configured here: the template says it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from kstock_local.cloud.events.scheduler import Clock, ScheduledFunction
from kstock_local.cloud.events.sqs_poller import SqsPoller
from kstock_local.cloud.gateway import connections_fastpath
from kstock_local.cloud.gateway.http_api import HttpApi, Route
from kstock_local.cloud.gateway.websocket import Limits, WebSocketGateway
from kstock_local.cloud.lambdas.pool import FunctionRegistry
from kstock_local.cloud.provision import Provisioned, clients_for, provision
from kstock_local.cloud.template import ScheduleEvent, Template, read_template
from kstock_local.supervisor import supervise_task


@dataclass
class Ports:
    host: str = "127.0.0.1"
    http: int = 3000
    websocket: int = 3001


@dataclass
class LocalCloud:
    template_path: Path
    endpoint: str  # AWS endpoint (moto / LocalStack)
    environment: dict[str, str]  # handed to every function (DATABASE_URL, ...)
    ports: Ports = field(default_factory=Ports)
    region: str = "ap-northeast-2"
    clock_speed: float = 1.0
    ws_limits: Limits | None = None
    concurrency: int = 2
    # the simulated market trades at any hour: market-hours jobs run on their always-open schedule
    market_always_open: bool = False
    localstack: bool = False  # the endpoint is LocalStack: provision through localstack-client
    serve_events: bool = True  # run the template's schedules and queue pollers (off: the API alone, benchmarks)

    template: Template | None = None
    functions: FunctionRegistry | None = None
    provisioned: Provisioned | None = None
    http_api: HttpApi | None = None
    websocket: WebSocketGateway | None = None
    schedules: list[ScheduledFunction] = field(default_factory=list)
    pollers: list[SqsPoller] = field(default_factory=list)
    _runners: list[web.AppRunner] = field(default_factory=list)
    _listeners: list[tuple[asyncio.Server, Callable[[], None]]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        return f"http://{self.ports.host}:{self.ports.http}"

    @property
    def ws_url(self) -> str:
        stage = self.websocket.stage if self.websocket else "Prod"
        return f"ws://{self.ports.host}:{self.ports.websocket}/{stage}"

    @property
    def connections_url(self) -> str:
        """The endpoint_url of a boto3 ``apigatewaymanagementapi`` client for this stack."""
        stage = self.websocket.stage if self.websocket else "Prod"
        return f"http://{self.ports.host}:{self.ports.websocket}/{stage}"

    def function_environment(self) -> dict[str, str]:
        return {
            **self.environment,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "KSTOCK_CONNECTIONS_URL": self.connections_url,
        }

    async def start(self) -> None:
        template = self.template = read_template(self.template_path, region=self.region, sqs_endpoint=self.endpoint)
        sqs, dynamodb = clients_for(self.endpoint, self.region, localstack=self.localstack)
        provisioned = self.provisioned = await asyncio.to_thread(provision, template, sqs, dynamodb)
        functions = self.functions = FunctionRegistry(template, self.function_environment(), self.concurrency)
        await self._start_http(template, functions)
        await self._start_websocket(template, functions)
        if self.serve_events:
            self._start_schedules(template, functions)
            self._start_pollers(template, functions, provisioned, sqs)

    async def _serve(self, app: web.Application, port: int) -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.ports.host, port).start()
        self._runners.append(runner)

    async def _start_http(self, template: Template, functions: FunctionRegistry) -> None:
        routes = [
            Route.of(event, functions.get(fn.logical_id))
            for fn in template.functions.values()
            for event in fn.api_events
        ]
        if routes:
            self.http_api = HttpApi(routes)
            await self._serve(self.http_api.app(), self.ports.http)

    async def _start_websocket(self, template: Template, functions: FunctionRegistry) -> None:
        if not template.websocket_apis:
            return
        if len(template.websocket_apis) > 1:
            raise ValueError("the local gateway serves one WebSocket API per template")
        api = next(iter(template.websocket_apis.values()))
        routes = {key: functions.get(logical_id) for key, logical_id in api.routes.items()}
        gateway = self.websocket = WebSocketGateway(
            api,
            routes,
            domain_name=f"{self.ports.host}:{self.ports.websocket}",
            limits=self.ws_limits,
            http_api_url=self.http_url if self.http_api else None,
        )
        # the fan-out's @connections calls skip aiohttp's request machinery; everything else is aiohttp's
        runner = web.AppRunner(gateway.app(), access_log=None)
        await runner.setup()
        assert runner.server is not None  # set by setup()
        server, close_kept = await connections_fastpath.serve(
            gateway, runner.server, self.ports.host, self.ports.websocket
        )
        self._runners.append(runner)
        self._listeners.append((server, close_kept))

    def _start_schedules(self, template: Template, functions: FunctionRegistry) -> None:
        clock = Clock(self.clock_speed)
        for fn in template.functions.values():
            sources = list(fn.schedule_events)
            if self.market_always_open and fn.always_open_schedule:
                sources.append(ScheduleEvent("AlwaysOpenMarket", fn.always_open_schedule, None, None, True))
            for source in sources:
                if source.enabled:
                    scheduled = ScheduledFunction(source, functions.get(fn.logical_id), clock, self.region)
                    self.schedules.append(scheduled)
                    self._tasks.append(supervise_task(f"schedule {fn.logical_id}.{source.name}", scheduled.run))

    def _start_pollers(
        self, template: Template, functions: FunctionRegistry, provisioned: Provisioned, sqs: Any
    ) -> None:
        for fn in template.functions.values():
            for source in fn.sqs_events:
                if not source.enabled:
                    continue
                poller = SqsPoller(
                    source,
                    functions.get(fn.logical_id),
                    sqs,
                    provisioned.queue_urls[source.queue],
                    provisioned.queue_arns[source.queue],
                    self.region,
                )
                self.pollers.append(poller)
                self._tasks.append(supervise_task(f"sqs {fn.logical_id}.{source.name}", poller.run))

    async def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server, close_kept in self._listeners:
            server.close()
            close_kept()
        for runner in self._runners:
            await runner.cleanup()
        if self.functions:
            await asyncio.to_thread(self.functions.close)
