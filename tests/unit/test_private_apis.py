"""No module of kstock touches a library's private names outside the fenced modules (issue 12).

A *private name* is an attribute that starts with one underscore and is not a dunder. A minor
release of a library may rename or remove one silently, so each such use sits in ONE fenced module
(listed in ``FENCED`` with the names it may touch, a guard test beside it and the library pinned),
or is replaced by the library's public API.

The scan parses every module under layers/, functions/, streamer/ and local/ and flags ``x._name``
(and ``getattr(x, "_name")``) when:

1. ``x`` is rooted in a library the module imports (``argparse._SubParsersAction``), or in a name
   the module assigns from such an expression (``site = web.TCPSite(...)`` then ``site._server``,
   ``bp = Blueprint(...)`` then ``bp.current_request._event_dict``). The standard library counts.
2. ``x`` is ``self``, ``cls`` or ``super()`` in a class deriving from a library class, and that
   library class defines ``_name`` (in its class body, or as ``self._name = ...`` in its source).
   A method ``def _name`` overriding one of the library's is flagged the same way (overriding
   Chalice's ``_get_view_function_response`` is as private as calling it).
3. ``_name`` is one of ``KNOWN_LIBRARY_PRIVATES``, whatever ``x`` is: an object handed back by our
   own helper (``_model()._get_connection()``, ``connection._reader``) cannot be traced statically.

Our own private names are never flagged by rules 1 and 2: first-party imports and classes without
a library base are skipped, so ``self._cache`` or ``pool._release()`` on our objects pass.

Limitations (what the scan cannot see): a library object reaching code through a parameter or an
attribute (``def f(conn): conn._sock``, ``self._redis._pool``) is caught only by rule 3's list;
the name tracking of rule 1 is per module and by name, not by scope; rule 2 follows a class's bases
within its own module (a subclass of our subclass of a library class, defined in another module, is
not checked); dynamic access (``vars(x)["_name"]``, ``getattr`` with a computed name) is invisible.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support.paths import PROJECT_ROOT

SCANNED_ROOTS = ("layers", "functions", "streamer", "local")
FIRST_PARTY = frozenset({"kstock", "kstock_streamer", "kstock_local", "chalicelib", "app"})

# The one place each library's internals may be touched, and the names it may touch there.
FENCED: dict[str, frozenset[str]] = {
    # redis-py: the socket reader of the connection redis-py authenticated (guard test beside it)
    "streamer/kstock_streamer/fanout/redis_reader.py": frozenset({"_reader"}),
    # moto (laptop only): our own markers on the DynamoDB handler and backend methods the local moto
    # server wraps (serialised requests, copy-free transactions); guarded by
    # tests/integration/test_registry_transactions.py, moto pinned to 5.2.x
    "local/kstock_local/cloud/moto_server.py": frozenset({"_kstock_serialized", "_kstock_fast", "_kstock_partition"}),
}

# Private names of libraries kstock has used (rule 3), with their owner: flagged on any object but
# self/cls, because the object usually comes from our own helper and cannot be traced statically.
KNOWN_LIBRARY_PRIVATES: dict[str, str] = {
    "_reader": "redis-py Connection's parser / socket reader",
    "_sock": "redis-py Connection's socket",
    "_parser": "redis-py Connection's parser",
    "_server": "aiohttp BaseSite's asyncio server (public: runner.addresses, site.name)",
    "_event_dict": "chalice Request's event (public: Request.to_original_event())",
    "_get_connection": "PynamoDB Model's connection (public: pynamodb.connection.Connection)",
    "_connection": "PynamoDB Model's cached connection",
    "_main_rest_api_handler": "chalice RestAPIEventHandler",
    "_get_view_function_response": "chalice RestAPIEventHandler",
    "_validate_response": "chalice RestAPIEventHandler",
    "_unhandled_exception_to_response": "chalice RestAPIEventHandler",
    "_global_error_handler": "chalice RestAPIEventHandler",
    "_build_middleware_handlers": "chalice BaseLambdaHandler",
    "_get_middleware_handlers": "chalice Chalice (public: register_middleware / @app.middleware)",
    "_middleware_handlers": "chalice handlers",
    "_register_handler": "chalice Chalice / Blueprint",
}

# Uses reviewed and accepted anywhere, by expression, with the reason.
ALLOWED: dict[str, str] = {
    "argparse._SubParsersAction": (
        "standard library, used as an annotation of the CLI's add_*_commands(sub); argparse has no public name "
        "for what add_subparsers() returns, and it changes only with the Python version kstock requires"
    ),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    expression: str
    why: str
    name: str = ""  # the private name itself, for FENCED

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.expression} ({self.why})"


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_library(module: str) -> bool:
    top = module.split(".")[0]
    return top not in FIRST_PARTY and top != "__future__"


def _library_imports(nodes: list[ast.AST]) -> dict[str, str]:
    """Local name -> dotted path, for every name the module binds by importing a library."""
    bound: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_library(alias.name):
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_library(node.module):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _root(expr: ast.expr) -> ast.expr:
    """The leftmost operand of an attribute / call / subscript chain: ``web`` in ``web.TCPSite(r)._server``."""
    while True:
        if isinstance(expr, ast.Attribute | ast.Subscript):
            expr = expr.value
        elif isinstance(expr, ast.Call):
            expr = expr.func
        elif isinstance(expr, ast.Await):
            expr = expr.value
        else:
            return expr


def _targets(node: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(target, value) of the module's simple bindings: assignments and ``with ... as``."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield target, node.value
    elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
        yield node.target, node.value
    elif isinstance(node, ast.With | ast.AsyncWith):
        for item in node.items:
            if item.optional_vars is not None:
                yield item.optional_vars, item.context_expr


def _library_names(nodes: list[ast.AST], imports: dict[str, str]) -> set[str]:
    """Imported library names, plus names assigned from expressions rooted in one (to a fixpoint)."""
    bindings: list[tuple[str, set[str]]] = []  # (root name of the value, names it is bound to)
    for node in nodes:
        for target, value in _targets(node):
            root = _root(value)
            if isinstance(root, ast.Name):
                bound = {name.id for name in ast.walk(target) if isinstance(name, ast.Name)}
                bindings.append((root.id, bound))
    names = set(imports)
    changed = True
    while changed:
        changed = False
        for root, bound in bindings:
            if root in names and not bound <= names:
                names |= bound
                changed = True
    return names


def _resolve(dotted: str) -> object | None:
    """The object a dotted path names (``chalice.app.RestAPIEventHandler``), importing as needed."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                found = getattr(found, attr)
        except AttributeError:
            return None
        return found
    return None


def _dotted(expr: ast.expr, imports: dict[str, str]) -> str | None:
    if isinstance(expr, ast.Name):
        return imports.get(expr.id)
    if isinstance(expr, ast.Attribute):
        head = _dotted(expr.value, imports)
        return f"{head}.{expr.attr}" if head else None
    return None


@functools.cache
def _library_class_privates(cls: type) -> frozenset[str]:
    """The private names a library class and its library ancestors define or assign on ``self``."""
    names: set[str] = set()
    for klass in cls.__mro__:
        module = getattr(klass, "__module__", "") or ""
        if not _is_library(module) or module == "builtins":
            continue
        names.update(name for name in vars(klass) if is_private(name))
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):  # a class written in C: its class body is all there is
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and is_private(node.attr)
            ):
                names.add(node.attr)
    return frozenset(names)


def _class_privates(nodes: list[ast.AST], imports: dict[str, str]) -> dict[ast.ClassDef, frozenset[str]]:
    """For each class of the module deriving from a library class: that library's private names."""
    found: dict[str, frozenset[str]] = {}
    by_node: dict[ast.ClassDef, frozenset[str]] = {}
    for node in nodes:
        if not isinstance(node, ast.ClassDef):
            continue
        names: set[str] = set()
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in found:  # our class, with a library base, same module
                names |= found[base.id]
                continue
            dotted = _dotted(base, imports)
            cls = _resolve(dotted) if dotted else None
            if isinstance(cls, type):
                names |= _library_class_privates(cls)
        if names:
            found[node.name] = by_node[node] = frozenset(names)
    return by_node


def _is_self(expr: ast.expr) -> bool:
    is_super = isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "super"
    return is_super or (isinstance(expr, ast.Name) and expr.id in ("self", "cls"))


def _subclass_findings(nodes: list[ast.AST], imports: dict[str, str], path: str) -> Iterator[Finding]:
    """Rule 2: self/cls/super() private names, and overrides, in classes deriving from a library's."""
    for cls, privates in _class_privates(nodes, imports).items():
        for item in cls.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in privates:
                why = f"overrides a private method of {cls.name}'s base"
                yield Finding(path, item.lineno, f"def {item.name}", why, item.name)
        for node in ast.walk(cls):
            access = _access(node)
            if access is not None and access[1] in privates and _is_self(access[0]):
                why = f"private name of {cls.name}'s library base"
                yield Finding(path, node.lineno, ast.unparse(node), why, access[1])


def _access(node: ast.AST) -> tuple[ast.expr, str] | None:
    """(object, name) of ``x._name`` or ``getattr(x, "_name")`` (and set/has/delattr)."""
    if isinstance(node, ast.Attribute) and is_private(node.attr):
        return node.value, node.attr
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
        and is_private(node.args[1].value)
    ):
        return node.args[0], node.args[1].value
    return None


def scan(source: str, path: str) -> list[Finding]:
    """Every use of a library's private name in one module's source."""
    nodes = list(ast.walk(ast.parse(source, path)))  # breadth first: a class comes before its subclasses
    imports = _library_imports(nodes)
    library = _library_names(nodes, imports)
    findings = list(_subclass_findings(nodes, imports, path))
    for node in nodes:
        access = _access(node)
        if access is None or _is_self(access[0]):  # self/cls/super(): rule 2 decides
            continue
        obj, name = access
        root = _root(obj)
        expression = ast.unparse(node)
        if isinstance(root, ast.Name) and root.id in library:
            origin = imports.get(root.id, f"{root.id}, assigned from a library object")
            findings.append(Finding(path, node.lineno, expression, f"private name of {origin}", name))
        elif name in KNOWN_LIBRARY_PRIVATES:
            findings.append(Finding(path, node.lineno, expression, KNOWN_LIBRARY_PRIVATES[name], name))
    return sorted(set(findings), key=lambda f: (f.path, f.line, f.expression))


def _permitted(finding: Finding) -> bool:
    return finding.expression in ALLOWED or finding.name in FENCED.get(finding.path, ())


def _modules() -> Iterator[Path]:
    for root in SCANNED_ROOTS:
        for path in sorted((PROJECT_ROOT / root).rglob("*.py")):
            if not {".venv", "__pycache__", ".aws-sam", "node_modules"} & set(path.parts):
                yield path


# -- the guard ----------------------------------------------------------------------------------------


def test_no_module_outside_the_fenced_ones_touches_a_library_private_name() -> None:
    findings = [
        finding
        for path in _modules()
        for finding in scan(path.read_text(encoding="utf-8"), path.relative_to(PROJECT_ROOT).as_posix())
        if not _permitted(finding)
    ]
    assert not findings, (
        "library private names outside the fenced modules (use the public API, or move the use into one "
        "fenced module with a guard test, list it in FENCED and pin the library):\n"
        + "\n".join(f"  {finding}" for finding in findings)
    )


def test_the_scan_covers_the_tree() -> None:
    scanned = {path.relative_to(PROJECT_ROOT).as_posix() for path in _modules()}
    assert {"functions/app.py", "functions/chalicelib/web.py", "local/kstock_local/kis_sim/server.py"} <= scanned
    assert any(path.startswith("layers/core/python/kstock/") for path in scanned)
    assert any(path.startswith("streamer/kstock_streamer/") for path in scanned)


def test_every_fenced_module_exists() -> None:
    missing = [path for path in FENCED if not (PROJECT_ROOT / path).is_file()]
    assert not missing, f"FENCED names modules that do not exist (moved? update FENCED): {missing}"


# -- the scan itself: it finds what it must, and leaves our own names alone ---------------------------


def _found(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.expression) for f in scan(textwrap.dedent(source), "probe.py")]


def test_the_scan_flags_private_names_of_imported_libraries_and_of_objects_made_from_them() -> None:
    source = """\
        import argparse
        from aiohttp import web
        from chalice import Blueprint

        bp = Blueprint(__name__)

        def add(sub: argparse._SubParsersAction) -> None: ...

        async def serve(runner):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            return site._server.sockets

        def view():
            return bp.current_request._event_dict, getattr(bp, "_deferred_registrations")
        """
    assert _found(source) == [
        (7, "argparse._SubParsersAction"),
        (11, "site._server"),
        (14, "bp.current_request._event_dict"),
        (14, "getattr(bp, '_deferred_registrations')"),
    ]


def test_the_scan_flags_overrides_and_self_use_of_a_library_base_class_private_names() -> None:
    source = """\
        from chalice import Chalice
        from chalice.app import RestAPIEventHandler

        class Handler(RestAPIEventHandler):
            def _get_view_function_response(self, view, args):
                self._validate_response(view(**args))
                getattr(self, "_middleware_handlers")
                return super()._main_rest_api_handler({}, None)

            def _ours(self):
                return self._mine

        class App(Chalice):
            def __call__(self, event, context):
                return self._get_middleware_handlers("http"), self._ours_too

        class MoreHandler(Handler):
            def _global_error_handler(self, event, get_response): ...
        """
    assert _found(source) == [
        (5, "def _get_view_function_response"),
        (6, "self._validate_response"),
        (7, "getattr(self, '_middleware_handlers')"),
        (8, "super()._main_rest_api_handler"),
        (15, "self._get_middleware_handlers"),
        (18, "def _global_error_handler"),
    ]


def test_the_scan_flags_known_library_private_names_on_objects_it_cannot_trace() -> None:
    source = """\
        def reader(connection, model):
            return connection._reader, model()._get_connection().connection
        """
    assert _found(source) == [(2, "connection._reader"), (2, "model()._get_connection")]


def test_the_scan_leaves_our_own_private_names_alone() -> None:
    source = """\
        import asyncio
        from kstock.indicators import _rows
        from kstock_local.cloud.lambdas.pool import LocalFunction
        from . import _sibling

        class Pool:
            def __init__(self) -> None:
                self._idle: list[int] = []

            def _release(self, item: int) -> None:
                self._idle.append(item)

        class Reader(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                self._buffer = data

        def hand_over(function: LocalFunction, pool: Pool) -> None:
            pool._release(1)
            function._release(2)
            _rows.as_rows([]), _sibling._helper()
        """
    assert _found(source) == []


def test_an_allowed_or_fenced_use_passes_and_any_other_name_in_a_fenced_module_does_not() -> None:
    fenced = "streamer/kstock_streamer/fanout/redis_reader.py"
    reader = scan("def f(connection):\n    return connection._reader, getattr(connection, '_reader')\n", fenced)
    assert len(reader) == 2 and all(_permitted(finding) for finding in reader)
    assert not any(_permitted(f) for f in scan("def f(connection):\n    return connection._sock\n", fenced))
    engine = "streamer/kstock_streamer/fanout/engine.py"
    assert not any(_permitted(f) for f in scan("def f(connection):\n    return connection._reader\n", engine))
    annotated = scan("import argparse\n\ndef add(sub: argparse._SubParsersAction) -> None: ...\n", "anywhere.py")
    assert len(annotated) == 1 and _permitted(annotated[0])
