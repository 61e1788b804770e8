"""Each Lambda function of template.yaml imports only what it uses (issue 12, cold start per function).

Every function's Handler is resolved in a fresh interpreter set up as Lambda sets one up (the bench's
own set-up: its CodeUri and the core layer on sys.path, the template's environment), and the test
asserts which modules that import did not load. Behaviour, not timings: `kstock bench cold-start`
prints the times.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from kstock_local.bench.cold_start import HandlerImport, import_handler
from kstock_local.cloud.template import read_template
from kstock_local.paths import TEMPLATE_PATH

FUNCTIONS = read_template(TEMPLATE_PATH).functions
REST_API = {"ApiFunction", "LoginFunction"}  # the Chalice app: every route, by design
WEBSOCKET = {"WsConnectFunction", "WsDefaultFunction", "WsDisconnectFunction"}
# Functions that call KIS (REST); every other function must not import the KIS client.
KIS_USERS = REST_API | {
    "MarketDataFunction",
    "IndexDataFunction",
    "BackfillWorkerFunction",
    "RankWatchFunction",
    "WatchlistRankFunction",  # the traded-value ranking (the core imports the client when it runs)
    "ScanWorkerFunction",  # smart money from the investor trend (likewise)
}
ROUTES = ("app", "chalicelib.routes", "chalicelib.openapi")
KIS_CLIENT = ("kstock.kis.rest", "kstock.kis.auth")
# Only the streamer holds a KIS WebSocket session; no Lambda function needs its client.
KIS_WEBSOCKET = ("kstock.kis.connection", "websockets")
# ~0.6 s together; loaded where they are used, inside the LLM and tokenizer calls
LLM_SDK_AND_TOKENIZER = ("google.genai", "kiwipiepy")
# numpy: the analysis figures, the scans and the indicators, not sockets and plain jobs
NUMPY_FREE = WEBSOCKET | {
    "TickPartitionsFunction",
    "OhlcvRollupFunction",
    "RetentionFunction",
    "BackfillWorkerFunction",
    "MarketDataFunction",
    "IndexDataFunction",
    "NewsScheduleFunction",
    "NewsIngestFunction",
    "DartWorkerFunction",
    "DartCorpCodesFunction",
    "DartFilingsFunction",
    "DartFinancialsFunction",
}


@pytest.fixture(scope="module")
def imports() -> dict[str, HandlerImport]:
    # two at a time: each child is one interpreter importing one handler
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(import_handler, FUNCTIONS.values())
        return dict(zip(FUNCTIONS, done, strict=True))


def _loaded(found: HandlerImport, prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in found.modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


def test_the_template_has_the_functions_this_test_names() -> None:
    named = REST_API | WEBSOCKET | KIS_USERS | NUMPY_FREE
    assert named <= set(FUNCTIONS), f"renamed or removed from template.yaml: {sorted(named - set(FUNCTIONS))}"


def test_the_rest_api_loads_its_routes(imports: dict[str, HandlerImport]) -> None:
    """The harness sees what a handler loads: the REST app's routes are there."""
    for name in REST_API:
        assert _loaded(imports[name], ("chalicelib.routes",)), name
        assert _loaded(imports[name], KIS_CLIENT), name


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - REST_API))
def test_no_function_but_the_rest_api_imports_the_routes(imports: dict[str, HandlerImport], name: str) -> None:
    assert _loaded(imports[name], ROUTES) == [], f"{FUNCTIONS[name].handler} imports the REST app"


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - KIS_USERS))
def test_functions_that_do_not_call_kis_do_not_import_its_client(imports: dict[str, HandlerImport], name: str) -> None:
    assert _loaded(imports[name], KIS_CLIENT) == [], f"{FUNCTIONS[name].handler} imports the KIS client"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_no_function_imports_the_kis_websocket_client_the_llm_sdk_or_the_tokenizer(
    imports: dict[str, HandlerImport], name: str
) -> None:
    assert _loaded(imports[name], KIS_WEBSOCKET + LLM_SDK_AND_TOKENIZER) == [], FUNCTIONS[name].handler


@pytest.mark.parametrize("name", sorted(NUMPY_FREE))
def test_functions_without_figures_do_not_import_numpy(imports: dict[str, HandlerImport], name: str) -> None:
    assert _loaded(imports[name], ("numpy", "kstock.indicators", "kstock.analysis")) == [], FUNCTIONS[name].handler


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - REST_API))
def test_handlers_do_not_import_each_other(imports: dict[str, HandlerImport], name: str) -> None:
    """A handler module imports the core, never another function's handler module."""
    parts = FUNCTIONS[name].handler.split(".")[:-1]
    own = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}  # the module and its packages
    others = [m for m in _loaded(imports[name], ("chalicelib.handlers",)) if m not in own]
    assert others == [], f"{FUNCTIONS[name].handler} imports {others}"
