"""``kstock bench cold-start``: what each Lambda function of template.yaml pays to import its handler.

For every function of the template, a fresh interpreter sets itself up the way the Lambda runtime
does (the function's CodeUri and each layer's ``python/`` directory at the front of ``sys.path``,
the function's environment from the template plus the variables Lambda itself sets, nothing of the
caller's) and resolves the ``Handler``. It reports the import's wall time, its CPU time, the
child's max RSS, and which library modules (anything not kstock's own: third-party and standard
library) the import loaded. A second fresh interpreter then imports just those library modules, in
the order the handler loaded them: that is the libraries' share, and kstock's own share is the
rest. Each figure is the median of ``--runs`` interpreters (5).

The shares are taken on CPU time: an import is CPU work, and on a busy machine (two cores shared
with other jobs) wall time mostly measures the wait for a core, which made the difference of two
wall medians swing by seconds. Both shares are measured the same way, so the difference does not
depend on profiling overhead either. The target (issue 12) is kstock's own share <= 150 ms for
every function; rows above it are marked. Timings are figures to read, not to gate on: the tests
assert which modules a handler loads (tests/unit/test_cold_start.py), never how long it takes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kstock_local.cloud.template import FunctionSpec, load_yaml, read_template
from kstock_local.paths import TEMPLATE_PATH

OWN_TARGET_MS = 150.0
# Top-level packages that are kstock's own code: the core layer and the functions' code.
OWN_PACKAGES = ("kstock", "chalicelib", "app")

# Runs in the child: set up sys.path as Lambda does, resolve the handler, report as one JSON line.
_HANDLER_CHILD = """
import importlib, json, resource, sys, time
setup = json.loads(sys.argv[1])
sys.path[:0] = setup["paths"]
before = set(sys.modules)
start, start_cpu = time.perf_counter(), time.process_time()
module_name, _, attribute = setup["handler"].rpartition(".")
handler = getattr(importlib.import_module(module_name), attribute)
elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
print(json.dumps({
    "seconds": elapsed,
    "cpu_seconds": cpu,
    "callable": callable(handler),
    "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "modules": [name for name, module in sys.modules.items() if name not in before and module is not None],
}))
"""

# Runs in the child: import the library modules a handler loaded, in their order, and time it.
_LIBRARIES_CHILD = """
import importlib, json, sys, time
setup = json.loads(sys.argv[1])
sys.path[:0] = setup["paths"]
failed = []
start, start_cpu = time.perf_counter(), time.process_time()
for name in setup["libraries"]:
    if name in sys.modules:
        continue  # its package imported it already
    try:
        importlib.import_module(name)
    except Exception:  # a module registered under an alias, or one that only its parent may import
        failed.append(name)
elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "failed": failed}))
"""


def is_own(module: str) -> bool:
    return module.partition(".")[0] in OWN_PACKAGES


@dataclass(frozen=True)
class HandlerImport:
    """One fresh interpreter's import of a function's handler."""

    seconds: float
    cpu_seconds: float
    max_rss_kb: int
    modules: list[str]  # every module the import loaded, in the order they started loading

    @property
    def own_modules(self) -> list[str]:
        return [m for m in self.modules if is_own(m)]

    @property
    def libraries(self) -> list[str]:
        return [m for m in self.modules if not is_own(m)]


@dataclass(frozen=True)
class ColdStart:
    function: str
    handler: str
    wall_ms: float  # the handler's import, wall clock
    cpu_ms: float  # the same import, CPU time
    libraries_ms: float  # CPU time of importing just the library modules it loaded
    max_rss_mb: float
    libraries: int  # library modules the handler loaded
    unimportable: int  # of those, modules the second interpreter could not import by name

    @property
    def own_ms(self) -> float:
        return max(0.0, self.cpu_ms - self.libraries_ms)


def layer_paths(template: Path) -> list[Path]:
    """Each layer's ``python/`` directory: where Lambda puts it on ``sys.path`` (``/opt/python``)."""
    resources = load_yaml(template).get("Resources") or {}
    return [
        template.parent / str(res["Properties"]["ContentUri"]) / "python"
        for res in resources.values()
        if res.get("Type") == "AWS::Serverless::LayerVersion"
    ]


def lambda_environment(function: FunctionSpec, code_dir: Path) -> dict[str, str]:
    """The template's environment of ``function`` plus what the Lambda runtime sets; not the caller's."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "ap-northeast-2",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
        "LAMBDA_TASK_ROOT": str(code_dir),
        **function.environment,
    }


def _child(code: str, setup: dict[str, Any], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    # -I: no PYTHON* variables, no user site and no script directory on sys.path, as in Lambda
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, json.dumps(setup)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{setup.get('handler', 'libraries')}: child failed:\n{done.stderr[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _setup(function: FunctionSpec, template: Path) -> tuple[list[str], dict[str, str], Path]:
    code_dir = (template.parent / function.code_uri).resolve()
    paths = [str(code_dir), *(str(p.resolve()) for p in layer_paths(template))]
    return paths, lambda_environment(function, code_dir), code_dir


def import_handler(function: FunctionSpec, template: Path = TEMPLATE_PATH) -> HandlerImport:
    """Resolve ``function``'s Handler in a fresh interpreter set up as Lambda does."""
    paths, env, code_dir = _setup(function, template)
    done = _child(_HANDLER_CHILD, {"paths": paths, "handler": function.handler}, env, code_dir)
    if not done["callable"]:
        raise RuntimeError(f"{function.logical_id}: {function.handler} is not callable")
    return HandlerImport(done["seconds"], done["cpu_seconds"], done["max_rss_kb"], done["modules"])


def measure(function: FunctionSpec, template: Path, runs: int) -> ColdStart:
    handler_runs = [import_handler(function, template) for _ in range(runs)]
    libraries = handler_runs[-1].libraries
    paths, env, code_dir = _setup(function, template)
    library_runs = [
        _child(_LIBRARIES_CHILD, {"paths": paths, "libraries": libraries}, env, code_dir) for _ in range(runs)
    ]
    return ColdStart(
        function=function.logical_id,
        handler=function.handler,
        wall_ms=statistics.median(r.seconds for r in handler_runs) * 1000,
        cpu_ms=statistics.median(r.cpu_seconds for r in handler_runs) * 1000,
        libraries_ms=statistics.median(r["cpu_seconds"] for r in library_runs) * 1000,
        max_rss_mb=statistics.median(r.max_rss_kb for r in handler_runs) / 1024,
        libraries=len(libraries),
        unimportable=len(library_runs[-1]["failed"]),
    )


def format_table(rows: list[ColdStart]) -> str:
    width = max([len("handler"), *(len(r.handler) for r in rows)])
    fn_width = max([len("function"), *(len(r.function) for r in rows)])
    header = (
        f"{'function':<{fn_width}}  {'handler':<{width}}  {'wall ms':>7}  {'cpu ms':>6}  {'libs ms':>7}  "
        f"{'own ms':>6}  {'RSS MB':>6}  {'lib modules':>11}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        mark = "  over target" if r.own_ms > OWN_TARGET_MS else ""
        lines.append(
            f"{r.function:<{fn_width}}  {r.handler:<{width}}  {r.wall_ms:>7.0f}  {r.cpu_ms:>6.0f}  "
            f"{r.libraries_ms:>7.0f}  {r.own_ms:>6.0f}  {r.max_rss_mb:>6.1f}  {r.libraries:>11}{mark}"
        )
    return "\n".join(lines)


LEGEND = (
    "wall / cpu = the handler's import (wall clock / CPU time); libs = CPU time of importing just the library "
    "modules (third-party and standard library) it loaded, in a fresh interpreter; own = cpu - libs "
    f"(target <= {OWN_TARGET_MS:.0f} ms); RSS = the child's max RSS"
)


def bench_cold_start(template: Path = TEMPLATE_PATH, runs: int = 5, only: list[str] | None = None) -> list[ColdStart]:
    functions = read_template(template).functions
    chosen = [f for f in functions.values() if not only or f.logical_id in only]
    unknown = set(only or ()) - set(functions)
    if unknown:
        raise SystemExit(f"no such function in {template.name}: {', '.join(sorted(unknown))}")
    print(
        f"cold start of {len(chosen)} function(s), median of {runs} fresh interpreters each ({sys.version.split()[0]})",
        flush=True,
    )
    rows = []
    for function in chosen:
        rows.append(measure(function, template, runs))
        print(f"  {function.logical_id}: {rows[-1].cpu_ms:.0f} ms CPU", file=sys.stderr, flush=True)
    print(format_table(rows))
    print(LEGEND)
    unimportable = sum(r.unimportable for r in rows)
    if unimportable:
        # aliases (a C extension registered under a short name) load with their package, so this is rarely time
        print(f"({unimportable} library module(s) could not be imported by name; any time of theirs counts as own)")
    return rows


def add_cold_start_bench(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def run(args: argparse.Namespace) -> int:
        bench_cold_start(args.template, args.runs, args.function)
        return 0

    parser = bench_sub.add_parser(
        "cold-start", help="per function of template.yaml: handler import time, RSS, libraries' and own share"
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per figure (the median is shown)")
    parser.add_argument("--function", action="append", help="only this logical id (repeatable)")
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH, help="the SAM template")
    parser.set_defaults(func=run)
