"""``kstock up``: the whole local stack in one process tree, until Ctrl-C or SIGTERM.

Embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL point elsewhere), a moto server
(unless AWS_ENDPOINT_URL names one, e.g. LocalStack), the schema and reference data, then the
template-driven local cloud: HTTP API, WebSocket API with @connections, schedules and queue
pollers. Child processes log with a ``[name]`` prefix and are restarted if they crash.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kstock.config import Settings, get_settings, reload_settings
from kstock.eventloop import run_event_loop
from kstock.kis.auth import parse_app_keys
from kstock_local.cloud.runtime import LocalCloud, Ports
from kstock_local.embedded import EmbeddedServiceError, Services, ensure_services, free_port, port_open
from kstock_local.kis_sim.credentials import has_real_key, simulator_environment
from kstock_local.market_load import MarketLoader, default_symbols
from kstock_local.paths import TEMPLATE_PATH
from kstock_local.settings import LocalSettings, get_local_settings, reload_local_settings
from kstock_local.signing import local_signing_key
from kstock_local.stack_state import clear_state, write_state
from kstock_local.supervisor import ManagedProcess, keep_embedded_redis, log, python_module, supervise_task


@dataclass
class StackOptions:
    template: Path = TEMPLATE_PATH
    fast_clock: float = 1.0
    localstack: bool = False  # AWS is LocalStack (localstack-client finds its edge), not a moto child
    # issue 18: 1 = the fan-out inside the streamer; N > 1 = N fan-out worker processes
    # (`python -m kstock_streamer --role fanout`) beside a streamer with its fan-out off
    fanout_workers: int = 1
    # issue 18 part 5: KIS app keys of the simulator, one ingest streamer each (real keys: KIS_APP_KEYS' pairs)
    kis_keys: int = 1


def _prepare_database(database_url: str) -> None:
    from kstock import db
    from kstock.companies.reference import seed
    from kstock.db.migrate import migrate

    applied = migrate(database_url)
    log("db", f"{len(applied)} migration(s) applied" if applied else "schema up to date")
    with db.connect(database_url) as conn:
        result = seed(conn)
    log("db", f"reference data: {result.companies} companies, {result.indices} indices")


async def _wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise EmbeddedServiceError(f"{what} did not open port {port} within {timeout:.0f}s")
        await asyncio.sleep(0.1)


def _stack_environment(services: Services, settings: Settings) -> dict[str, str]:
    env = {
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "KSTOCK_ENV": settings.kstock_env,
        "LOG_LEVEL": settings.log_level,
    }
    embedded = [name for name, server in (("postgres", services.postgres), ("redis", services.redis)) if server]
    env["KSTOCK_EMBEDDED"] = ",".join(embedded)
    env["JWT_SECRET"] = local_signing_key()  # JWT_SECRET, or the local key kept in KSTOCK_HOME
    return env


@dataclass
class StandIn:
    process: ManagedProcess
    port: int
    what: str


async def _spawn_content_standins(
    settings: Settings, environment: dict[str, str], local: LocalSettings | None = None
) -> list[StandIn]:
    """No Naver or OpenDART key: their wire-format stand-ins serve simulated news, filings and figures
    (labelled simulated wherever a user sees them). A configured base URL (a proxy) is used as it is.
    Spawned, not waited for: they start while the KIS simulator does (:func:`_await_standins`)."""
    from kstock.news.naver import REAL_HOST
    from kstock_local.cli.content import DART_STAND_IN_KEY

    local = local or get_local_settings()
    started: list[StandIn] = []
    if settings.naver_client_id is None and REAL_HOST in settings.naver_api_url:
        naver = ManagedProcess(
            "naver-sim", [*python_module("kstock_local.cli.main"), "sim-naver", "--port", str(local.naver_sim_port)]
        )
        started.append(StandIn(naver, local.naver_sim_port, "Naver stand-in"))
        environment["NAVER_API_URL"] = f"http://127.0.0.1:{local.naver_sim_port}"
    if settings.dart_api_key is None and "opendart.fss.or.kr" in settings.dart_api_url:
        dart = ManagedProcess(
            "dart-sim", [*python_module("kstock_local.cli.main"), "sim-dart", "--port", str(local.dart_sim_port)]
        )
        started.append(StandIn(dart, local.dart_sim_port, "OpenDART stand-in"))
        environment["DART_API_URL"] = f"http://127.0.0.1:{local.dart_sim_port}/api"
        environment["DART_API_KEY"] = DART_STAND_IN_KEY
    for standin in started:
        await standin.process.start()
    return started


async def _await_standins(standins: list[StandIn]) -> list[ManagedProcess]:
    for standin in standins:
        await _wait_for_port(standin.port, standin.what)
    return [standin.process for standin in standins]


async def _start_content_standins(
    settings: Settings, environment: dict[str, str], local: LocalSettings | None = None
) -> list[ManagedProcess]:
    """Both stand-ins (when no key is set), listening."""
    return await _await_standins(await _spawn_content_standins(settings, environment, local))


def _content_rows(environment: dict[str, str]) -> list[tuple[str, str]]:
    settings = get_settings()
    naver = environment.get("NAVER_API_URL")
    dart = environment.get("DART_API_URL")
    return [
        ("Naver news", f"stand-in {naver} (simulated)" if naver else f"{settings.naver_api_url} (NAVER_CLIENT_ID)"),
        ("OpenDART", f"stand-in {dart} (simulated)" if dart else f"{settings.dart_api_url} (DART_API_KEY)"),
        ("Gemini", "GOOGLE_API_KEY set" if settings.google_api_key else "off: no GOOGLE_API_KEY (never simulated)"),
    ]


def _fanout_row(workers: list[tuple[str, int]]) -> tuple[str, str]:
    """Where the WebSocket fan-out runs: in the streamer, or the worker processes and their health URLs."""
    if not workers:
        return ("fan-out", "inside the streamer (--fanout-workers N for N worker processes)")
    urls = ", ".join(f"{name} http://127.0.0.1:{port}/health" for name, port in workers)
    return ("fan-out", f"{len(workers)} workers sharing the connections: {urls}")


def _banner(
    cloud: LocalCloud,
    endpoint: str,
    services: Services,
    environment: dict[str, str],
    fanout_workers: list[tuple[str, int]] | None = None,
) -> str:
    rows = [
        ("HTTP API", cloud.http_url),
        ("API docs", f"{cloud.http_url}/docs"),
        ("live page", f"http://{cloud.ports.host}:{cloud.ports.websocket}/live"),
        ("WebSocket", cloud.ws_url),
        ("@connections", cloud.connections_url),
        ("AWS (LocalStack)" if cloud.localstack else "AWS (moto)", endpoint),
        (
            "KIS",
            f"simulator {environment['KIS_REST_URL']}" if "KIS_REST_URL" in environment else "real KIS (KIS_APP_KEY)",
        ),
        *_content_rows(environment),
        ("streamer", f"http://127.0.0.1:{get_settings().streamer_health_port}/health"),
        _fanout_row(fanout_workers or []),
        ("PostgreSQL", f"{services.database_kind} ({services.database_url.split('?')[0]})"),
        ("Redis", f"{services.redis_kind} ({services.redis_url})"),
    ]
    table = "\n".join(f"  {name:<14} {value}" for name, value in rows)
    functions = cloud.template.functions if cloud.template else {}
    counts = f"  {len(functions)} functions, {len(cloud.schedules)} schedules, {len(cloud.pollers)} queue pollers"
    hint = (
        "  New here? Open the live page, sign up (any email, a password with a letter, a digit and a\n"
        "  symbol, 8+ characters) and pick symbols; or POST /users/signup and /users/login."
    )
    aws_log = "" if get_local_settings().kstock_log_aws else " (access log off; KSTOCK_LOG_AWS=1 shows it)"
    return (
        f"\n  kstock is up\n{table}\n{counts}\n\n{hint}\n\n"
        f"  `kstock env` exports these{aws_log}; Ctrl-C stops everything.\n"
    )


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run ``work`` unless Ctrl-C comes first; True when it finished."""
    task = asyncio.create_task(work)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
    if task.exception() is not None:  # the stack still serves; the market fills on its schedules
        log("market", f"first market load failed: {task.exception()!r}")
    return True


async def _start_moto(local: LocalSettings, processes: list[ManagedProcess]) -> str:
    """No AWS endpoint configured: a moto server on loopback plays SQS, DynamoDB and EventBridge."""
    moto = ManagedProcess(
        "moto", python_module("kstock_local.cloud.moto_server", "-H", "127.0.0.1", "-p", str(local.moto_port))
    )
    await moto.start()
    processes.append(moto)
    await _wait_for_port(local.moto_port, "moto")
    return f"http://127.0.0.1:{local.moto_port}"


async def _start_kis_simulator(
    local: LocalSettings, environment: dict[str, str], processes: list[ManagedProcess], keys: int = 1
) -> None:
    """No KIS credentials: the simulator plays the broker, on the real ports, open at any hour. The
    functions and the streamer get its address (KIS_REST_URL / KIS_WS_URL, as they would a proxy's) and
    placeholder credentials: the core itself never falls back to a simulator."""
    simulator = ManagedProcess(
        "kis-sim",
        [
            *python_module("kstock_local.cli.main"),
            "sim-kis",
            "--always-open",
            "--rest-port",
            str(local.kis_sim_rest_port),
            "--ws-port",
            str(local.kis_sim_ws_port),
        ],
    )
    await simulator.start()
    processes.append(simulator)
    await _wait_for_port(local.kis_sim_rest_port, "KIS simulator")
    await _wait_for_port(local.kis_sim_ws_port, "KIS simulator")
    environment.update(simulator_environment(local.kis_sim_rest_url, local.kis_sim_ws_url, keys))
    environment["KIS_MASTER_URL"] = f"{local.kis_sim_rest_url}/common/master"  # issue 15: its master files


def _kis_key_count(environment: dict[str, str]) -> int:
    text = environment.get("KIS_APP_KEYS") or os.environ.get("KIS_APP_KEYS") or ""
    return len(parse_app_keys(text)) if text.strip() else 1


@dataclass(frozen=True)
class StreamerImageProcesses:
    """What :func:`streamer_processes` builds: every process, and the extra ones' names and health ports."""

    processes: list[ManagedProcess]
    key_streamers: list[tuple[str, int]]  # an ingest streamer per KIS key after the first
    fanout_workers: list[tuple[str, int]]  # `--role fanout` processes (none: the fan-out is the streamer's)


def streamer_processes(
    environment: dict[str, str], endpoint: str, region: str, fanout_workers: int
) -> StreamerImageProcesses:
    """The streamer-image processes: key 0's streamer; with several KIS app keys (issue 18 part 5) an
    ingest streamer per further key (they only ingest, plan and poll); with ``fanout_workers`` > 1 that
    many fan-out workers (`--role fanout`), the streamer's own fan-out off. Each extra one gets its own
    health port."""
    env = {**environment, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": region}
    if fanout_workers > 1:
        env["STREAMER_FANOUT"] = "off"
    built = StreamerImageProcesses([ManagedProcess("streamer", python_module("kstock_streamer"), env=env)], [], [])

    def add(into: list[tuple[str, int]], name: str, argv: list[str], **settings: str) -> None:
        port = free_port()
        built.processes.append(ManagedProcess(name, argv, env={**env, **settings, "STREAMER_HEALTH_PORT": str(port)}))
        into.append((name, port))

    for index in range(1, _kis_key_count(environment)):
        add(
            built.key_streamers,
            f"streamer-kis-{index}",
            python_module("kstock_streamer", "--no-writer"),
            KIS_KEY_INDEX=str(index),
            STREAMER_FANOUT="off",
        )
    for i in range(fanout_workers if fanout_workers > 1 else 0):
        add(built.fanout_workers, f"fanout-{i + 1}", python_module("kstock_streamer", "--role", "fanout"))
    return built


async def _start_streamers(
    environment: dict[str, str], endpoint: str, region: str, fanout_workers: int, processes: list[ManagedProcess]
) -> list[tuple[str, int]]:
    """Start :func:`streamer_processes`; the fan-out workers' names and ports (for the banner)."""
    built = streamer_processes(environment, endpoint, region, fanout_workers)
    for process in built.processes:
        await process.start()
        processes.append(process)
    if built.key_streamers:
        names = ", ".join(name for name, _ in built.key_streamers)
        log("up", f"KIS: {len(built.key_streamers) + 1} app keys, one ingest streamer each (streamer, {names})")
    if built.fanout_workers:
        names = ", ".join(name for name, _ in built.fanout_workers)
        log("up", f"fan-out: {len(built.fanout_workers)} worker processes ({names})")
    return built.fanout_workers


async def _serve_until_stopped(
    cloud: LocalCloud,
    services: Services,
    environment: dict[str, str],
    processes: list[ManagedProcess],
    stop: asyncio.Event,
    fanout_workers: int = 1,
) -> None:
    """Provision and serve the template, start the streamer (and the fan-out workers; ``processes``, which
    the caller stops), publish the stack, load the market, and wait for Ctrl-C."""
    endpoint = cloud.endpoint
    region = get_settings().aws_region
    await cloud.start()
    # after provisioning: the streamer's fan-out reads the connection registry (the endpoint's DynamoDB)
    workers = await _start_streamers(environment, endpoint, region, fanout_workers, processes)
    write_state(
        {
            **environment,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": region,
            "KSTOCK_API_URL": cloud.http_url,
            "KSTOCK_WS_URL": cloud.ws_url,
            "KSTOCK_CONNECTIONS_URL": cloud.connections_url,
        }
    )
    log("up", f"API on {cloud.http_url}; loading the market before the stack reports ready")
    loader = MarketLoader(
        cloud,
        environment["REDIS_URL"],
        default_symbols(),
        first_companies=get_local_settings().kstock_first_load_companies,
    )
    if await _until_stopped(loader.run(), stop):
        print(_banner(cloud, endpoint, services, environment, workers), flush=True)
        await stop.wait()


async def _run(options: StackOptions, services: Services) -> None:
    settings, local = get_settings(), get_local_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    processes: list[ManagedProcess] = []
    # issue 17: the embedded Redis is a child like the others: restarted when it dies
    redis = services.redis
    redis_keeper = supervise_task("redis", lambda: keep_embedded_redis(redis)) if redis else None
    endpoint = settings.aws_endpoint_url or await _start_moto(local, processes)

    environment = _stack_environment(services, settings)
    standins = await _spawn_content_standins(settings, environment, local)
    processes += [standin.process for standin in standins]
    if not has_real_key(settings):
        await _start_kis_simulator(local, environment, processes, options.kis_keys)
    await _await_standins(standins)
    cloud = LocalCloud(
        options.template,
        endpoint,
        environment,
        ports=Ports(local.kstock_api_host, local.kstock_api_port, local.kstock_ws_port),
        region=settings.aws_region,
        clock_speed=options.fast_clock,
        market_always_open=not has_real_key(settings) and local.kis_sim_always_open,
        localstack=options.localstack,
    )
    try:
        await _serve_until_stopped(cloud, services, environment, processes, stop, options.fanout_workers)
    finally:
        log("up", "stopping")
        clear_state()
        await cloud.stop()
        for process in reversed(processes):
            await process.stop()
        if redis_keeper is not None:  # stopped last: the processes above drain into Redis
            redis_keeper.cancel()


def _point_at_localstack() -> str | None:
    """`kstock up --localstack`: AWS_ENDPOINT_URL becomes LocalStack's edge (as localstack-client
    finds it) for this process and its children. None, after a one-line reason on stderr, when
    LocalStack does not answer there."""
    from kstock_local.cloud.localstack import LocalStackUnavailable, connect

    try:
        endpoint = connect(get_local_settings().localstack_host)
    except LocalStackUnavailable as exc:
        print(f"kstock up --localstack: {exc}", file=sys.stderr)
        return None
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    reload_settings()
    log("up", f"AWS: LocalStack at {endpoint}")
    return endpoint


def run_stack(options: StackOptions | None = None) -> int:
    options = options or StackOptions()
    if options.localstack and _point_at_localstack() is None:
        return 1
    services = ensure_services()
    services.export_env()
    reload_settings()
    reload_local_settings()
    log("up", f"postgres: {services.database_kind}, redis: {services.redis_kind}")
    try:
        _prepare_database(services.database_url)
        run_event_loop(_run(options, services))
    finally:
        services.stop()
        log("up", "stopped")
    return 0
